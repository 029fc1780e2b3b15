#pragma once

// SESSION_PROCESS_COMMAND handling for the process runtime: splitting the configured command line
// into argv (no shell is ever involved), filling in the placeholders, and finding the program
// and the directories it needs to see inside the sandbox. Pure functions, unit-tested.

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace medforge::sessions {

class CommandLineError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Splits a command line into words with a small subset of POSIX shell quoting:
//   - unquoted spaces, tabs and newlines separate words;
//   - '…' keeps everything inside literally (no escapes);
//   - "…" keeps everything inside literally except \" and \\, which give " and \;
//   - outside quotes, a backslash keeps the next character literally;
//   - quotes join with adjacent text ("a"'b'c is one word abc); "" or '' is an empty word.
// Nothing else is special: no variables, globs, ~, pipes, redirections or `;`. Throws
// CommandLineError on an unterminated quote, a trailing backslash or an empty command.
std::vector<std::string> split_command_line(std::string_view line);

// Replaces every `{port}` and `{workspace}` inside each word (after splitting, so a workspace
// path with spaces stays one word). Other braces are left as they are.
std::vector<std::string> expand_command(std::vector<std::string> words, int port,
                                        const std::string& workspace);

// The executable a program word names: a word with a '/' is taken as a path (made absolute
// against the current directory), a bare name is looked up in `path_var` (PATH syntax). Returns
// the absolute path of a regular file with an execute bit that `usable` (when given) accepts —
// the PATH search goes on past files it rejects, as the session user's own shell would —, or
// nullopt.
std::optional<std::string> find_program(
    const std::string& word, std::string_view path_var,
    const std::function<bool(const std::string&)>& usable = nullptr);

// The interpreter a script starts with (`#!/usr/bin/env node` → the name "node", looked up like
// a program; `#!/bin/sh -e` → "/bin/sh"), or "" when the file is not a script.
std::string script_interpreter(const std::string& file);

// The directory to make visible in the sandbox so that the program at `path` works — the whole
// installation it belongs to: for a path inside a `node_modules` tree, the directory holding the
// first `node_modules` (an npm install: `/opt/medforge/code-server`); for `<prefix>/bin/x` and
// `<prefix>/sbin/x`, <prefix>; otherwise the program's own directory.
std::string install_prefix(const std::string& path);

// True when `path` is `dir` or inside it (both absolute and normalised, compared by component).
bool path_within(const std::string& path, const std::string& dir);

}  // namespace medforge::sessions
