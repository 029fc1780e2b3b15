#include "sessions/process_command.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace medforge::sessions {

namespace fs = std::filesystem;

std::vector<std::string> split_command_line(std::string_view line) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;  // a word has started (quotes alone start an empty word)
    std::size_t i = 0;
    while (i < line.size()) {
        const char ch = line[i];
        if (ch == ' ' || ch == '\t' || ch == '\n') {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
            ++i;
        } else if (ch == '\'') {
            const auto end = line.find('\'', i + 1);
            if (end == std::string_view::npos) throw CommandLineError("unterminated ' quote");
            word.append(line.substr(i + 1, end - i - 1));
            in_word = true;
            i = end + 1;
        } else if (ch == '"') {
            in_word = true;
            ++i;
            for (;;) {
                if (i >= line.size()) throw CommandLineError("unterminated \" quote");
                const char c = line[i];
                if (c == '"') break;
                if (c == '\\' && i + 1 < line.size() &&
                    (line[i + 1] == '"' || line[i + 1] == '\\')) {
                    word.push_back(line[i + 1]);
                    i += 2;
                    continue;
                }
                word.push_back(c);
                ++i;
            }
            ++i;  // the closing quote
        } else if (ch == '\\') {
            if (i + 1 >= line.size()) throw CommandLineError("trailing backslash");
            word.push_back(line[i + 1]);
            in_word = true;
            i += 2;
        } else {
            word.push_back(ch);
            in_word = true;
            ++i;
        }
    }
    if (in_word) words.push_back(std::move(word));
    if (words.empty()) throw CommandLineError("the command is empty");
    return words;
}

namespace {

void replace_all(std::string& s, std::string_view what, std::string_view with) {
    std::size_t pos = 0;
    while ((pos = s.find(what, pos)) != std::string::npos) {
        s.replace(pos, what.size(), with);
        pos += with.size();
    }
}

bool executable_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    return S_ISREG(st.st_mode) && (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
}

}  // namespace

std::vector<std::string> expand_command(std::vector<std::string> words, int port,
                                        const std::string& workspace) {
    const std::string port_text = std::to_string(port);
    for (auto& w : words) {
        replace_all(w, "{port}", port_text);
        replace_all(w, "{workspace}", workspace);
    }
    return words;
}

std::optional<std::string> find_program(const std::string& word, std::string_view path_var,
                                        const std::function<bool(const std::string&)>& usable) {
    const auto ok = [&](const std::string& file) {
        return executable_file(file) && (!usable || usable(file));
    };
    if (word.empty()) return std::nullopt;
    if (word.find('/') != std::string::npos) {
        std::error_code ec;
        const auto abs = fs::absolute(word, ec).lexically_normal().string();
        if (ec || !ok(abs)) return std::nullopt;
        return abs;
    }
    std::size_t start = 0;
    while (start <= path_var.size()) {
        auto end = path_var.find(':', start);
        if (end == std::string_view::npos) end = path_var.size();
        const auto dir = path_var.substr(start, end - start);
        // An empty or relative PATH entry would search the current directory: never.
        if (!dir.empty() && dir.front() == '/') {
            const auto candidate = (fs::path(dir) / word).lexically_normal().string();
            if (ok(candidate)) return candidate;
        }
        start = end + 1;
    }
    return std::nullopt;
}

std::string script_interpreter(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    char head[2] = {0, 0};
    if (!in.read(head, 2) || head[0] != '#' || head[1] != '!') return "";
    std::string line;
    std::getline(in, line);
    if (line.size() > 4096) return "";
    std::vector<std::string> parts;
    try {
        // The kernel splits a #! line on blanks only; quoting does not occur in practice.
        parts = split_command_line(line);
    } catch (const CommandLineError&) {
        return "";
    }
    if (fs::path(parts[0]).filename() == "env") {
        for (std::size_t i = 1; i < parts.size(); ++i) {
            if (parts[i].empty() || parts[i][0] == '-') continue;   // env's own options (-S)
            if (parts[i].find('=') != std::string::npos) continue;  // VAR=value
            return parts[i];
        }
        return parts[0];
    }
    return parts[0];
}

std::string install_prefix(const std::string& path) {
    const fs::path p = fs::path(path).lexically_normal();
    fs::path walked;
    for (const auto& part : p.parent_path()) {
        if (part == "node_modules") return walked.string();
        walked /= part;
    }
    const fs::path dir = p.parent_path();
    const auto name = dir.filename().string();
    if (name == "bin" || name == "sbin") return dir.parent_path().string();
    return dir.string();
}

bool path_within(const std::string& path, const std::string& dir) {
    const fs::path p(path);
    const fs::path d(dir);
    auto pi = p.begin();
    for (auto di = d.begin(); di != d.end(); ++di, ++pi) {
        if (di->empty()) continue;  // a trailing slash in dir
        if (pi == p.end() || *pi != *di) return false;
    }
    return true;
}

}  // namespace medforge::sessions
