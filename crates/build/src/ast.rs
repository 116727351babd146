//! What a Dockerfile says, instruction by instruction, before expansion:
//! words keep their `$VAR`s; the builder expands them with the stage's
//! environment where Docker does (ADD, COPY, ENV, EXPOSE, FROM, LABEL,
//! STOPSIGNAL, USER, VOLUME, WORKDIR, ARG, and the flags of ADD/COPY/FROM).

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// Parser directives at the top (`# escape=`, `# syntax=`, `# check=`).
    pub directives: Directives,
    /// `ARG`s before the first `FROM` (usable in `FROM` lines only, unless
    /// re-declared inside a stage).
    pub meta_args: Vec<ArgDecl>,
    /// The stages, in order; at least one.
    pub stages: Vec<Stage>,
}

/// Parser directives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// The escape character: `\` (default) or `` ` ``.
    pub escape: char,
    /// `# syntax=` (recorded; the classic builder ignores it).
    pub syntax: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
        }
    }
}

/// `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The name.
    pub name: String,
    /// The default, unexpanded (`None`: no `=`).
    pub default: Option<String>,
}

/// `FROM [--platform=p] image [AS name]` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The base image reference, unexpanded (`scratch` for none).
    pub base: String,
    /// `AS name`, lowercased as Docker does.
    pub name: Option<String>,
    /// `--platform=`, unexpanded.
    pub platform: Option<String>,
    /// The `FROM` line's position and text.
    pub from: Source,
    /// The instructions after `FROM`, in order.
    pub instructions: Vec<Instruction>,
}

/// Where an instruction is, and its text as written (continuations
/// joined, comments inside it dropped): history's `created_by` and the
/// build cache use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// 1-based first line.
    pub line: usize,
    /// The instruction's text, keyword included, on one line.
    pub text: String,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Where it is.
    pub source: Source,
    /// What it says.
    pub kind: Kind,
}

/// A command in shell form (run by the stage's `SHELL`) or exec form (a
/// JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `RUN echo $HOME`: the text after the keyword (and flags).
    Shell(String),
    /// `RUN ["echo", "hi"]`.
    Exec(Vec<String>),
}

/// A here-document (`<<EOF`, `<<-EOF`, `<<"EOF"`) attached to RUN or COPY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The word after `<<` (quotes removed).
    pub name: String,
    /// The body, up to (not including) the terminator line; with `<<-`
    /// leading tabs removed.
    pub content: String,
    /// Whether variables in the body are expanded (unquoted name).
    pub expand: bool,
}

/// `--flag=value` options of an instruction, in order, unexpanded: the
/// name without `--`, quotes removed as Docker's `extractBuilderFlags`
/// does; a bare boolean flag (`--link`) has the value `true`.
pub type Flags = Vec<(String, String)>;

/// The instructions. Words are unexpanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `RUN [--mount=… --network=… --security=…] cmd`; heredocs when the
    /// command uses `<<EOF` (a heredoc as the whole command is a script
    /// run by the shell).
    Run {
        /// Flags (kept; the classic builder refuses those it lacks).
        flags: Flags,
        /// The command.
        command: Command,
        /// Here-documents, in order.
        heredocs: Vec<Heredoc>,
    },
    /// `CMD`.
    Cmd(Command),
    /// `ENTRYPOINT`.
    Entrypoint(Command),
    /// `ENV a=b c=d` or the old `ENV a b c` (one pair: `a` = `b c`).
    Env(Vec<(String, String)>),
    /// `ARG a[=b] …`.
    Arg(Vec<ArgDecl>),
    /// `LABEL a=b …`.
    Label(Vec<(String, String)>),
    /// `EXPOSE 80 443/tcp …`.
    Expose(Vec<String>),
    /// `VOLUME /a /b` or `VOLUME ["/a"]`.
    Volume(Vec<String>),
    /// `USER name[:group]`.
    User(String),
    /// `WORKDIR path`.
    Workdir(String),
    /// `COPY` or `ADD`.
    Copy(CopySpec),
    /// `ONBUILD <instruction>`, stored in the image config as the inner
    /// instruction's `source.text`: the trigger without `ONBUILD`, then
    /// each of its here-documents' body and terminator on the lines after
    /// it (BuildKit's `OnbuildCommand.Expression`), so that it parses
    /// again in the build that runs it.
    Onbuild(Box<Instruction>),
    /// `STOPSIGNAL sig`.
    Stopsignal(String),
    /// `HEALTHCHECK NONE` or `HEALTHCHECK [--interval=…] CMD …`.
    Healthcheck(Option<Healthcheck>),
    /// `SHELL ["sh", "-c"]` (exec form required).
    Shell(Vec<String>),
    /// `MAINTAINER name` (deprecated; sets the author).
    Maintainer(String),
}

/// `COPY`/`ADD [--from=… --chown=… --chmod=… --link --parents --exclude=…
/// --checksum=… --keep-git-dir=…] src… dest`, or with heredocs as sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    /// `ADD` (tar extraction, URLs) rather than `COPY`.
    pub add: bool,
    /// Flags, unexpanded.
    pub flags: Flags,
    /// Sources (at least one, or heredocs), unexpanded.
    pub sources: Vec<String>,
    /// `COPY <<EOF /dest`: files made from here-documents (named by
    /// the heredoc's name).
    pub heredocs: Vec<Heredoc>,
    /// The destination, unexpanded.
    pub dest: String,
}

/// `HEALTHCHECK [options] CMD …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// `--interval=`, `--timeout=`, `--start-period=`,
    /// `--start-interval=`, `--retries=`, as written.
    pub flags: Flags,
    /// The command (`CMD` shell or exec form).
    pub command: Command,
}
