//! GW-T-CMDI: OS command injection.
//!
//! A shell reads a value as commands when the value leaves its argument with a command
//! separator (`;`, `|`, `&`, a newline) or a substitution (`` `...` ``, `$(...)`), so the rule
//! tokenizes the value the way `sh` / `cmd.exe` would split it and looks at the *first word
//! of every command*: if that word is a program attackers run to probe or take over a host
//! (`id`, `cat`, `wget`, `powershell` ...), possibly with a path (`/usr/bin/id`) or quotes
//! around letters (`w'h'o'am'i`), the value is an injection. A value that *starts* with such a
//! program followed by shell-looking arguments (`cat /etc/passwd`, `netstat -an`) also counts,
//! as do a few shell-only constructs (`${IFS}`, `$(...)`, PHP `system(...)`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use gw_model::{Confidence, Severity};

use super::{INJECTION_OWASP, KeywordSet, RuleMeta, ScanValue, T1190, ValueRule, Verdict};

pub struct CommandInjection;

static META: RuleMeta = RuleMeta {
    id: "GW-T-CMDI",
    name: "OS command injection",
    version: 1,
    severity: Severity::Critical,
    owasp: INJECTION_OWASP,
    mitre: &[T1190, ("TA0002", "T1059")],
    description: "A request value contains a shell command separator or substitution followed by a system command.",
    remediation: "Never pass request values to a shell. Call programs with an argument vector (no shell), allow-list the accepted values, and run the service with least privilege.",
};

/// Programs attackers run first on a compromised host (Unix and Windows).
const COMMANDS: &[&str] = &[
    "id",
    "whoami",
    "uname",
    "cat",
    "ls",
    "dir",
    "pwd",
    "ping",
    "nc",
    "ncat",
    "netcat",
    "telnet",
    "wget",
    "curl",
    "sleep",
    "echo",
    "bash",
    "sh",
    "zsh",
    "ksh",
    "csh",
    "tcsh",
    "dash",
    "cmd",
    "powershell",
    "pwsh",
    "nslookup",
    "dig",
    "ifconfig",
    "ipconfig",
    "netstat",
    "ps",
    "kill",
    "rm",
    "cp",
    "mv",
    "chmod",
    "chown",
    "touch",
    "perl",
    "python",
    "python2",
    "python3",
    "ruby",
    "php",
    "node",
    "lua",
    "type",
    "net",
    "systeminfo",
    "tasklist",
    "taskkill",
    "hostname",
    "env",
    "printenv",
    "head",
    "tail",
    "more",
    "less",
    "find",
    "grep",
    "awk",
    "sed",
    "xargs",
    "base64",
    "useradd",
    "passwd",
    "crontab",
    "nohup",
    "timeout",
    "expr",
    "eval",
    "exec",
    "mkfifo",
    "tftp",
    "ftp",
    "ssh",
    "scp",
    "certutil",
    "bitsadmin",
    "rundll32",
    "regsvr32",
    "mshta",
    "wscript",
    "cscript",
    "reg",
    "schtasks",
    "shutdown",
    "reboot",
    "ver",
    "vol",
    "tracert",
    "traceroute",
    "arp",
    "route",
    "lsb_release",
    "od",
    "xxd",
    "dd",
    "sendmail",
    "gcc",
    "sudo",
    "su",
    "who",
    "w",
    "last",
    "which",
    "whereis",
    "uptime",
    "set",
    "start",
    "copy",
    "del",
    "rd",
    "md",
    "tar",
    "unzip",
    "gzip",
    "chmod",
    "killall",
    "pkill",
    "sysctl",
    "mount",
    "ifup",
    "route",
    "false",
    "true",
    "sh",
    "busybox",
    "openssl",
    "socat",
    "nmap",
    "tclsh",
    "xterm",
    "cmd.exe",
    "powershell.exe",
    "net.exe",
    "ping.exe",
    "system",
    "passthru",
    "shell_exec",
    "popen",
    "proc_open",
    "pcntl_exec",
    "invoke-webrequest",
    "invoke-expression",
    "iex",
    "iwr",
    "start-process",
    "get-content",
    "get-childitem",
    "test-connection",
    "whoami.exe",
    "netsh",
    "exit",
    "sysinfo",
    "phpinfo",
    "wmic",
    "vssadmin",
    "icacls",
    "attrib",
    "findstr",
    "nbtstat",
];

/// Windows `net` subcommands (plain `net` is an English word).
const NET_SUBCOMMANDS: &[&str] = &[
    "user",
    "users",
    "view",
    "localgroup",
    "group",
    "share",
    "use",
    "start",
    "stop",
    "accounts",
    "session",
    "config",
];

/// Commands that are risky only with arguments (they are also common English words).
const NEEDS_ARGS: &[&str] = &[
    "exit", "cat", "set", "type", "find", "more", "less", "head", "tail", "start", "copy", "echo",
    "net", "route", "who", "w", "last", "which", "sleep", "false", "true", "time", "ver", "vol",
    "md", "rd", "del", "kill", "touch", "su", "dd", "od", "env", "mount", "system", "timeout",
    "expr",
];

static COMMAND_SET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| COMMANDS.iter().copied().collect());

fn is_command(word: &str) -> bool {
    COMMAND_SET.contains(word)
}

/// Strips a program path (`/usr/bin/id`, `c:\windows\system32\cmd.exe`) and shell quoting
/// inside a word (`w'h'o'am'i`, `w\ho\am\i`, `who$@ami`).
fn program_name(word: &str) -> Cow<'_, str> {
    let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
    if !base
        .bytes()
        .any(|b| matches!(b, b'\'' | b'"' | b'\\' | b'^' | b'$'))
    {
        return Cow::Borrowed(base);
    }
    let mut out = String::with_capacity(base.len());
    let mut chars = base.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '\\' | '^' => {}
            '$' if matches!(chars.peek(), Some('@') | Some('*')) => {
                chars.next();
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Splits at shell separators; returns `(offset of the command, starts after a separator)`.
fn command_starts(b: &[u8]) -> Vec<(usize, bool)> {
    // A leading quote breaks out of a quoted argument: `' whoami`.
    let lead_quote = matches!(b.first(), Some(b'\'' | b'"'));
    let mut starts = vec![(0usize, lead_quote)];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let sep_len = match c {
            b';' | b'|' | b'&' | b'\n' | b'\r' | b'`' => 1,
            // A literal `\n` / `\r` that an echo -e / printf or a logging sink turns into one.
            b'\\' if matches!(b.get(i + 1), Some(b'n' | b'r')) => 2,
            b'$' if b.get(i + 1) == Some(&b'(') => 2,
            b'(' | b'{' if i > 0 && matches!(b[i - 1], b'|' | b'&' | b';' | b'$' | b' ') => 1,
            _ => 0,
        };
        if sep_len > 0 {
            starts.push((i + sep_len, true));
            i += sep_len;
        } else {
            i += 1;
        }
    }
    starts
}

/// The first word of the command at `at`: skips blanks, `+`, `(`, `{`, quotes, `!`.
fn first_word(lower: &str, at: usize) -> Option<(usize, &str, &str)> {
    let b = lower.as_bytes();
    let mut s = at;
    while s < b.len()
        && matches!(
            b[s],
            b' ' | b'\t' | b'+' | b'(' | b'{' | b'!' | b'@' | b'"' | b'\'' | b'\n' | b'\r' | b'<'
        )
    {
        s += 1;
    }
    let mut e = s;
    while e < b.len()
        && !matches!(
            b[e],
            b' ' | b'\t'
                | b'+'
                | b';'
                | b'|'
                | b'&'
                | b'`'
                | b')'
                | b'}'
                | b'\n'
                | b'\r'
                | b'<'
                | b'>'
                | b','
                | b'('
        )
        && !(b[e] == b'$' && b.get(e + 1) == Some(&b'{'))
    {
        e += 1;
    }
    (e > s).then(|| (s, &lower[s..e], &lower[e..]))
}

/// Shell-looking arguments: an option, a path, a URL, a drive, a redirect or an address.
fn has_shell_args(rest: &str) -> bool {
    let rest = rest.trim_start_matches([' ', '\t', '+']);
    let b = rest.as_bytes();
    match b.first() {
        None => false,
        Some(
            b'-' | b'/' | b'\\' | b'>' | b'<' | b'$' | b'~' | b'%' | b'.' | b'"' | b'\'' | b'*',
        ) => true,
        Some(c) if c.is_ascii_digit() => true,
        Some(_) => {
            rest.starts_with("c:")
                || rest.contains("://")
                || rest.starts_with("${ifs}")
                || rest.contains('/')
                || rest.contains('\\')
        }
    }
}

/// Shell, SSI and PHP code-execution constructs that need no command list.
static SHELL_CONSTRUCTS: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "${ifs}",
        "$ifs$",
        "$(",
        "system(",
        "passthru(",
        "shell_exec(",
        "popen(",
        "proc_open(",
        "exec(",
        "`id`",
        "/bin/sh",
        "/bin/bash",
        "cmd.exe",
        "cmd /c",
        "powershell -",
        ";${",
        "<!--#exec",
        "() {",
        "phpinfo(",
        "phpversion(",
        "{${",
        "${@",
        "$_get[",
        "$_post[",
        "$_request[",
        "$_cookie[",
        "$_server[",
        "eval(",
        "assert(",
        "create_function(",
        "=$'",
        "=$\"",
    ])
});

fn cmd_trigger(b: &[u8]) -> bool {
    b.iter().any(|&c| {
        matches!(
            c,
            b';' | b'|' | b'&' | b'`' | b'$' | b'\n' | b'\r' | b' ' | b'/' | b'\\' | b'('
        )
    })
}

impl ValueRule for CommandInjection {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        let b = v.lower.as_bytes();
        if !cmd_trigger(b) {
            return None;
        }
        for (at, after_sep) in command_starts(b) {
            let Some((s, word, rest)) = first_word(v.lower, at) else {
                continue;
            };
            if after_sep
                && word.len() > 2
                && word.starts_with('$')
                && word.as_bytes()[1].is_ascii_alphabetic()
                && word[1..]
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_')
                && word != "$ifs"
            {
                return Some(Verdict::new(
                    Confidence::Medium,
                    format!("variable `{word}` run as a command after a shell separator"),
                    s..v.text.len(),
                ));
            }
            if batch_statement(word, rest) {
                return Some(Verdict::new(
                    Confidence::High,
                    format!("cmd.exe `{}` statement", word.to_ascii_uppercase()),
                    s..v.text.len(),
                ));
            }
            let program = program_name(word);
            if !is_command(&program) {
                continue;
            }
            let args = has_shell_args(rest);
            let with_path = word.contains('/') || word.contains('\\');
            let needs_args = NEEDS_ARGS.contains(&program.as_ref()) || program == "net";
            let next_word = rest
                .trim_start_matches([' ', '\t', '+'])
                .split([' ', '\t', '+', ';', '|', '&'])
                .next()
                .unwrap_or("");
            let substituted =
                at > 0 && matches!(b[at - 1], b'`' | b'(') && rest.starts_with(['`', ')']);
            let subcommand = (program == "net" && NET_SUBCOMMANDS.contains(&next_word))
                || (matches!(program.as_ref(), "which" | "whereis" | "type")
                    && is_command(next_word));
            let hit = if after_sep {
                !needs_args || args || with_path || substituted || subcommand
            } else {
                (args && (!needs_args || with_path || rest_is_pathlike(&program, rest)))
                    || (with_path && word.starts_with('/'))
                    || subcommand
            };
            if hit {
                let confidence = if after_sep {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                let how = if after_sep {
                    "after a shell separator"
                } else {
                    "with shell arguments"
                };
                return Some(Verdict::new(
                    confidence,
                    format!("command `{program}` {how}"),
                    s..v.text.len(),
                ));
            }
        }
        SHELL_CONSTRUCTS.find_any(v.lower).map(|(at, c)| {
            Verdict::new(
                Confidence::Medium,
                format!("shell construct `{c}`"),
                at..v.text.len(),
            )
        })
    }
}

/// A cmd.exe `FOR` loop or `IF` statement as the command at a command start: the batch
/// language's own control flow, which runs the command that follows it. `FOR` needs its
/// whole shape (`FOR [/D|/F|/L|/R ["opts"]] %v IN (set) DO cmd`); `IF` needs a batch-only
/// condition (`EXIST x`, `DEFINED v cmd`, `ERRORLEVEL n`, `a EQU b`, `a==b cmd`) and, for the
/// comparisons, a command after it. `word` is the first word of the command, `rest` what
/// follows it.
fn batch_statement(word: &str, rest: &str) -> bool {
    rest.starts_with([' ', '\t'])
        && match word {
            "for" => batch_for(rest),
            "if" => batch_if(rest),
            _ => false,
        }
}

/// Whitespace-separated tokens, a double-quoted string (`"A A"`) being one token.
fn batch_tokens(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < 12 {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let mut quoted = false;
        while i < b.len() && (quoted || !b[i].is_ascii_whitespace()) {
            if b[i] == b'"' {
                quoted = !quoted;
            }
            i += 1;
        }
        out.push(&s[start..i]);
    }
    out
}

/// After `for`: switches, options, `%var`, `in`, `(set)`, `do`.
fn batch_for(r: &str) -> bool {
    let mut r = r.trim_start();
    while r.len() > 1 && r.as_bytes()[0] == b'/' && r.as_bytes()[1].is_ascii_alphabetic() {
        r = r[2..].trim_start();
        if r.starts_with('"') {
            let Some(close) = r[1..].find('"') else {
                return false;
            };
            r = r[close + 2..].trim_start();
        }
    }
    let Some(var) = r.strip_prefix("%%").or_else(|| r.strip_prefix('%')) else {
        return false;
    };
    // `%a`, `%%G`, and the longer names the CRS tests use (`%variable`).
    let name_len = var.find(char::is_whitespace).unwrap_or(var.len());
    if name_len == 0 {
        return false;
    }
    let r = var[name_len..].trim_start();
    let Some(r) = r.strip_prefix("in") else {
        return false;
    };
    let r = r.trim_start();
    if !r.starts_with('(') {
        return false;
    }
    let Some(close) = r.find(')') else {
        return false;
    };
    let r = r[close + 1..].trim_start();
    r.strip_prefix("do")
        .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t', '@', '(']))
}

/// After `if`: `[/i] [not]` and a batch-only condition.
fn batch_if(r: &str) -> bool {
    const COMPARE: &[&str] = &["equ", "neq", "lss", "leq", "gtr", "geq"];
    let tokens = batch_tokens(r);
    let mut t = tokens.as_slice();
    if t.first() == Some(&"/i") {
        t = &t[1..];
    }
    if t.first() == Some(&"not") {
        t = &t[1..];
    }
    match t {
        ["exist", _, ..] | ["errorlevel", _, ..] | ["cmdextversion", _, ..] => true,
        ["defined", _, _, ..] => true,
        [left, op, _, _, ..] if COMPARE.contains(op) && !left.is_empty() => true,
        // Not a `(`-wrapped C-like condition, not a Python `if a == b:`.
        [left, "==", right, _, ..] if !left.starts_with('(') && !right.ends_with(':') => true,
        [cond, _, ..] if !cond.starts_with('(') && !cond.ends_with(':') => cond
            .find("==")
            .is_some_and(|at| at > 0 && at + 2 < cond.len()),
        _ => false,
    }
}

/// For ambiguous words at the start of a value (`cat`, `type`), only a path-like or option
/// argument makes it a command line (`cat /etc/passwd`, `type c:\boot.ini`).
fn rest_is_pathlike(program: &str, rest: &str) -> bool {
    let r = rest.trim_start_matches([' ', '\t', '+']);
    r.starts_with(['/', '\\', '-', '.', '$', '>', '%', '\'', '"'])
        || r.starts_with("c:")
        || (matches!(program, "sleep" | "ping" | "timeout")
            && r.starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::check;

    #[test]
    fn separators_and_substitutions() {
        for p in [
            "a;id",
            "|id|",
            "`id`",
            "$(whoami)",
            "127.0.0.1 && cat /etc/passwd",
            "%0aid%0a",
            "&& w'h'o'am'i",
            "| /usr/bin/id",
            "netstat -an",
            "cat /etc/passwd",
            "x;ping -c 3 10.0.0.1",
            ";${IFS}cat${IFS}/etc/passwd",
        ] {
            assert!(check(&CommandInjection, p).is_some(), "{p}");
        }
    }

    #[test]
    fn batch_for_and_if_statements() {
        for p in [
            "for /f %variable in (fileset) do command",
            "for /l %i in (1,1,2) do command",
            "FOR /F \"tokens=4 delims=,\" %%G IN (\"a,b\") DO @echo %%G",
            "& FOR %_ IN (a,b,c)DO cmd",
            "x & for %a in (*.txt) do type %a",
            "IF EXIST C:\\pagefile.sys CMD",
            "IF /I NOT EXIST C:\\nonexistent echo hey",
            "IF NOT DEFINED _example ECHO Value Missing",
            "IF %ERRORLEVEL% EQU 2 goto sub_problem2",
            "if (1) equ (1) echo hey",
            "if \"A A\" == \"A A\" echo same",
            "IF [%1]==[] ECHO Value Missing",
            "if /i a==b foo",
        ] {
            let v = check(&CommandInjection, p);
            assert!(
                v.as_ref().is_some_and(|v| v.confidence == Confidence::High),
                "{p}: {v:?}"
            );
        }
        for p in [
            "for the record, in (most) cases we do not ship",
            "if defined, use it",
            "if x == 1: return",
            "if a==b: return",
            "if (a == b) { return c; }",
            "If exists, skip",
            "for %20 off in (stores) do visit",
            "look for 50% in (the) docs",
        ] {
            assert!(check(&CommandInjection, p).is_none(), "{p}");
        }
    }

    #[test]
    fn prose_passes() {
        for p in [
            "cat food & dog toys",
            "salt & pepper",
            "type here",
            "Q&A; more info",
            "find a store near me",
            "who we are",
            "echo",
            "rock & roll; sleep well",
        ] {
            assert!(check(&CommandInjection, p).is_none(), "{p}");
        }
    }
}
