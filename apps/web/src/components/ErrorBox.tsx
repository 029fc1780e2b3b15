import type { Problem } from "@/lib/problem";
import { problemMessage } from "@/lib/problem";

/** The problem `detail` of a failed request, announced to screen readers. */
export function ErrorBox({ problem, testId = "error-box" }: { problem: Problem | null | undefined; testId?: string }) {
  if (!problem) return null;
  return (
    <div className="alert alert-error" role="alert" data-testid={testId} data-code={problem.code ?? ""}>
      {problemMessage(problem)}
    </div>
  );
}
