import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";

/**
 * Competition descriptions are markdown written by admins. react-markdown builds React elements
 * from the syntax tree and ignores raw HTML in the source, so nothing in the text can inject
 * markup or scripts; links are limited to safe URL schemes by its default URL transform.
 */
export function Markdown({ source }: { source: string }) {
  return (
    <div className="markdown" data-testid="markdown">
      <ReactMarkdown remarkPlugins={[remarkGfm]}>{source}</ReactMarkdown>
    </div>
  );
}
