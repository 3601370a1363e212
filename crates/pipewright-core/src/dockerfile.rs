//! The Dockerfile model pipewright writes: global `ARG`s, then named stages of typed
//! instructions, each able to carry a comment that says why. Rendering is deterministic;
//! `CMD` is always exec form, built from a shell command line by [`split_command`].
//!
//! ```
//! use pipewright_core::dockerfile::{Dockerfile, Instruction, Stage};
//! let mut d = Dockerfile::default();
//! let mut s = Stage::new("registry/python:3.12-slim", "runtime");
//! s.push(Instruction::Cmd(vec!["python".into(), "app.py".into()]));
//! d.stages.push(s);
//! assert!(d.render().contains("CMD [\"python\", \"app.py\"]"));
//! ```

/// One instruction of a stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Instruction {
    /// A comment line (without `#`), or an empty line when the text is empty.
    Comment(String),
    Workdir(String),
    /// `COPY [--from=stage] [--chown=user:group] src... dest`
    Copy {
        from: Option<String>,
        chown: Option<String>,
        src: Vec<String>,
        dest: String,
    },
    /// `RUN a && b && c`, one command per line with continuations.
    Run(Vec<String>),
    Env(Vec<(String, String)>),
    Arg(String, Option<String>),
    User(String),
    Expose(u16),
    Cmd(Vec<String>),
    Entrypoint(Vec<String>),
}

/// One build stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub comment: Vec<String>,
    pub from: String,
    pub name: String,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    pub fn new(from: impl Into<String>, name: impl Into<String>) -> Self {
        Stage {
            comment: Vec::new(),
            from: from.into(),
            name: name.into(),
            instructions: Vec::new(),
        }
    }

    pub fn push(&mut self, i: Instruction) -> &mut Self {
        self.instructions.push(i);
        self
    }

    pub fn comment(&mut self, text: impl Into<String>) -> &mut Self {
        self.instructions.push(Instruction::Comment(text.into()));
        self
    }

    pub fn run<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, cmds: I) -> &mut Self {
        self.instructions
            .push(Instruction::Run(cmds.into_iter().map(Into::into).collect()));
        self
    }

    pub fn copy<I: IntoIterator<Item = S>, S: Into<String>>(
        &mut self,
        src: I,
        dest: &str,
    ) -> &mut Self {
        self.instructions.push(Instruction::Copy {
            from: None,
            chown: None,
            src: src.into_iter().map(Into::into).collect(),
            dest: dest.to_string(),
        });
        self
    }
}

/// A whole Dockerfile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dockerfile {
    pub header: Vec<String>,
    /// Global `ARG`s before the first `FROM` (used in `FROM` lines).
    pub args: Vec<(String, String)>,
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    /// Renders the Dockerfile text.
    pub fn render(&self) -> String {
        // No `# syntax=` directive: it makes BuildKit pull a frontend image from Docker Hub,
        // which a build behind the team's registry cannot reach.
        let mut out = String::new();
        for line in &self.header {
            comment(&mut out, line);
        }
        for (k, v) in &self.args {
            out.push_str(&format!("ARG {k}={v}\n"));
        }
        for stage in &self.stages {
            out.push('\n');
            for line in &stage.comment {
                comment(&mut out, line);
            }
            out.push_str(&format!("FROM {} AS {}\n", stage.from, stage.name));
            for i in &stage.instructions {
                render_instruction(&mut out, i);
            }
        }
        out
    }

    /// The first value of an instruction (comments aside, which are escaped) holding a control
    /// character: a newline there would end the instruction and start another, and no
    /// Dockerfile quoting can hold one.
    pub fn first_multiline_value(&self) -> Option<&str> {
        let has = |s: &&String| s.chars().any(crate::quote::invisible);
        let args = self.args.iter().flat_map(|(k, v)| [k, v]);
        let stages = self.stages.iter().flat_map(|st| {
            [&st.from, &st.name]
                .into_iter()
                .chain(st.instructions.iter().flat_map(instruction_values))
        });
        args.chain(stages).find(has).map(String::as_str)
    }

    /// Every image a `FROM` line names (not references to earlier stages).
    pub fn base_images(&self) -> Vec<String> {
        let names: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
        self.stages
            .iter()
            .filter(|s| !names.contains(&s.from.as_str()))
            .map(|s| s.from.clone())
            .collect()
    }
}

/// The values an instruction writes, comments left out.
fn instruction_values(i: &Instruction) -> Vec<&String> {
    match i {
        Instruction::Comment(_) | Instruction::Expose(_) => Vec::new(),
        Instruction::Workdir(v) | Instruction::User(v) => vec![v],
        Instruction::Copy {
            from,
            chown,
            src,
            dest,
        } => from
            .iter()
            .chain(chown.iter())
            .chain(src.iter())
            .chain(std::iter::once(dest))
            .collect(),
        Instruction::Run(v) | Instruction::Cmd(v) | Instruction::Entrypoint(v) => {
            v.iter().collect()
        }
        Instruction::Env(vars) => vars.iter().flat_map(|(k, v)| [k, v]).collect(),
        Instruction::Arg(k, v) => std::iter::once(k).chain(v.iter()).collect(),
    }
}

fn comment(out: &mut String, line: &str) {
    if line.is_empty() {
        out.push_str("#\n");
    } else {
        out.push_str("# ");
        // A comment is free text: a newline in it would start an instruction.
        out.push_str(&crate::quote::escaped(line));
        out.push('\n');
    }
}

fn json_array(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| serde_json::Value::String(s.clone()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

fn render_instruction(out: &mut String, i: &Instruction) {
    match i {
        Instruction::Comment(t) => comment(out, t),
        Instruction::Workdir(d) => out.push_str(&format!("WORKDIR {d}\n")),
        Instruction::Copy {
            from,
            chown,
            src,
            dest,
        } => {
            out.push_str("COPY ");
            if let Some(f) = from {
                out.push_str(&format!("--from={f} "));
            }
            if let Some(c) = chown {
                out.push_str(&format!("--chown={c} "));
            }
            out.push_str(&src.join(" "));
            out.push(' ');
            out.push_str(dest);
            out.push('\n');
        }
        Instruction::Run(cmds) => {
            out.push_str("RUN ");
            out.push_str(&cmds.join(" \\\n    && "));
            out.push('\n');
        }
        Instruction::Env(vars) => {
            let parts: Vec<String> = vars
                .iter()
                .map(|(k, v)| {
                    if v.chars().any(|c| c.is_whitespace() || c == '"') {
                        format!("{k}={}", serde_json::Value::String(v.clone()))
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            out.push_str(&format!("ENV {}\n", parts.join(" \\\n    ")));
        }
        Instruction::Arg(k, v) => match v {
            Some(v) => out.push_str(&format!("ARG {k}={v}\n")),
            None => out.push_str(&format!("ARG {k}\n")),
        },
        Instruction::User(u) => out.push_str(&format!("USER {u}\n")),
        Instruction::Expose(p) => out.push_str(&format!("EXPOSE {p}\n")),
        Instruction::Cmd(args) => out.push_str(&format!("CMD {}\n", json_array(args))),
        Instruction::Entrypoint(args) => {
            out.push_str(&format!("ENTRYPOINT {}\n", json_array(args)))
        }
    }
}

/// Why a command line cannot become an exec-form argument list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("unterminated quote in `{0}`")]
    Unterminated(String),
    #[error("`{0}` uses shell syntax ({1}); it needs a shell")]
    NeedsShell(String, &'static str),
}

/// Splits a simple command line (`gunicorn 'app:create_app()' --bind 0.0.0.0:8000`) into
/// arguments the way a POSIX shell would, for an exec-form `CMD`. Lines that need a shell
/// (`&&`, pipes, redirects, variables, globs) are refused, so the caller can wrap them in
/// `sh -c` deliberately.
pub fn split_command(line: &str) -> Result<Vec<String>, SplitError> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err(SplitError::Unterminated(line.to_string())),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch) => cur.push(ch),
                            None => return Err(SplitError::Unterminated(line.to_string())),
                        },
                        Some('$') | Some('`') => {
                            return Err(SplitError::NeedsShell(line.to_string(), "expansion"))
                        }
                        Some(ch) => cur.push(ch),
                        None => return Err(SplitError::Unterminated(line.to_string())),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    cur.push(ch);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '&' | '|' | ';' | '<' | '>' | '(' | ')' => {
                return Err(SplitError::NeedsShell(line.to_string(), "operators"))
            }
            '$' | '`' => return Err(SplitError::NeedsShell(line.to_string(), "expansion")),
            '*' | '?' | '[' => return Err(SplitError::NeedsShell(line.to_string(), "globs")),
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        args.push(cur);
    }
    Ok(args)
}

/// The exec-form arguments for a start command: split directly when possible, else run
/// through `sh -c` (still exec form) with `exec` before the last command of its `&&`/`;`
/// chain, so the server replaces the shell and gets signals while the steps before it still
/// run. (`exec A && B` would replace the shell with A, and B would never start.)
pub fn exec_form(line: &str) -> Vec<String> {
    match split_command(line) {
        Ok(args) if !args.is_empty() => args,
        _ => vec!["sh".into(), "-c".into(), exec_last(line)],
    }
}

/// `line` with `exec` before its last command, when that command is a plain one (no pipe,
/// `||`, background or subshell, which `exec` would change); else `line` unchanged.
fn exec_last(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut quote: Option<u8> = None;
    let mut last_start = 0;
    let mut plain = true;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(b'"') if c == b'\\' => i += 1,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'\\' => i += 1,
                b'&' if bytes.get(i + 1) == Some(&b'&') => {
                    last_start = i + 2;
                    plain = true;
                    i += 1;
                }
                b';' => {
                    last_start = i + 1;
                    plain = true;
                }
                b'|' | b'&' | b'(' | b')' | b'`' => plain = false,
                _ => {}
            },
        }
        i += 1;
    }
    let last = line[last_start.min(line.len())..].trim_start();
    if !plain || last.is_empty() || last.starts_with("exec ") {
        return line.to_string();
    }
    let head = line[..line.len() - last.len()].to_string();
    format!("{head}exec {last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_lines_split_like_a_shell() {
        assert_eq!(
            split_command("gunicorn 'app:create_app()' --bind 0.0.0.0:8000").unwrap(),
            vec!["gunicorn", "app:create_app()", "--bind", "0.0.0.0:8000"]
        );
        assert_eq!(
            split_command(r#"a "b c" d\ e"#).unwrap(),
            vec!["a", "b c", "d e"]
        );
    }

    #[test]
    fn shell_syntax_is_refused_and_wrapped() {
        assert!(split_command("npm run build && npm start").is_err());
        assert!(split_command("java -jar target/*.jar").is_err());
        assert!(split_command("echo $HOME").is_err());
        assert_eq!(
            exec_form("java -jar target/*.jar"),
            vec!["sh", "-c", "exec java -jar target/*.jar"]
        );
    }

    #[test]
    fn exec_goes_before_the_last_command_of_a_chain() {
        // `exec A && B` never starts B: the shell is replaced by A.
        assert_eq!(
            exec_form("python manage.py migrate && gunicorn app.wsgi --bind 0.0.0.0:$PORT"),
            vec![
                "sh",
                "-c",
                "python manage.py migrate && exec gunicorn app.wsgi --bind 0.0.0.0:$PORT"
            ]
        );
        assert_eq!(
            exec_form("./setup.sh; npm start"),
            vec!["sh", "-c", "./setup.sh; exec npm start"]
        );
        assert_eq!(
            exec_form("echo 'a && b' && serve"),
            vec!["sh", "-c", "echo 'a && b' && exec serve"]
        );
        // A pipe or `||` in the last command: exec would change what runs, so none.
        assert_eq!(
            exec_form("migrate && serve | tee log"),
            vec!["sh", "-c", "migrate && serve | tee log"]
        );
        assert_eq!(exec_form("a || b"), vec!["sh", "-c", "a || b"]);
    }

    #[test]
    fn renders_stages_and_lists_base_images() {
        let mut d = Dockerfile {
            args: vec![("BASE_REGISTRY".into(), "nexus:5001".into())],
            ..Default::default()
        };
        let mut deps = Stage::new("${BASE_REGISTRY}/apm-repo/demo/python:3.12-slim", "deps");
        deps.run(["apt-get update", "rm -rf /var/lib/apt/lists/*"]);
        d.stages.push(deps);
        d.stages.push(Stage::new("deps", "build"));
        let text = d.render();
        assert!(text.contains("RUN apt-get update \\\n    && rm -rf /var/lib/apt/lists/*\n"));
        assert_eq!(
            d.base_images(),
            vec!["${BASE_REGISTRY}/apm-repo/demo/python:3.12-slim"]
        );
    }
}
