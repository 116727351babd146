//! The tree of a template, as Go's `text/template/parse` builds it: text,
//! actions, `if`/`range`/`with` with their `else` (and `else if`, `else
//! with`), `define`/`template`/`block`, `break`/`continue`, pipelines with
//! variable declarations, and commands of fields, variables, constants,
//! functions and parenthesized pipelines.

use std::collections::BTreeMap;

use super::lex::{self, Num, Piece, Tok, Token};

/// How deep `(` and control structures may nest: a bound on hostile
/// `--format` values, far above any real template.
const MAX_DEPTH: usize = 100;

/// A node of a template's list.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    /// `{{template "name" pipeline}}`.
    Template(String, Option<Pipe>),
    Break,
    Continue,
}

/// The parts of `if`, `range` and `with`.
#[derive(Debug, Clone)]
pub(super) struct Branch {
    pub(super) pipe: Pipe,
    pub(super) list: Vec<Node>,
    pub(super) else_list: Vec<Node>,
}

/// A pipeline: `$a, $b := cmd | cmd`.
#[derive(Debug, Clone, Default)]
pub(super) struct Pipe {
    /// Variables declared (or assigned, with `is_assign`).
    pub(super) decl: Vec<String>,
    pub(super) is_assign: bool,
    pub(super) cmds: Vec<Vec<Arg>>,
}

/// An operand of a command.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    Dot,
    Nil,
    Bool(bool),
    Num(Num),
    Str(String),
    /// `.A.B`, from dot.
    Field(Vec<String>),
    /// `$x.A.B`.
    Var(String, Vec<String>),
    /// A function's name.
    Func(String),
    /// `(pipeline).A.B`.
    Sub(Box<Pipe>, Vec<String>),
}

/// A parsed template and the ones it defines.
#[derive(Debug, Clone, Default)]
pub(super) struct Tree {
    pub(super) root: Vec<Node>,
    pub(super) defines: BTreeMap<String, Vec<Node>>,
}

/// Parses `src`; `funcs` are the function names it may call.
pub(super) fn parse(src: &str, funcs: &[&str]) -> Result<Tree, String> {
    let mut p = Parser {
        pieces: lex::split(src)?.into_iter(),
        funcs,
        defines: BTreeMap::new(),
        ranges: 0,
        depth: 0,
        vars: vec!["$".into()],
    };
    let (root, end) = p.list()?;
    if let Some(end) = end {
        return Err(format!("unexpected {{{{{}}}}}", end.word()));
    }
    Ok(Tree {
        root,
        defines: p.defines,
    })
}

/// How a list ended.
enum End {
    End,
    /// `{{else}}`, or `{{else if ...}}` with the tokens after `else`.
    Else(Vec<Token>),
}

impl End {
    fn word(&self) -> &'static str {
        match self {
            End::End => "end",
            End::Else(_) => "else",
        }
    }
}

struct Parser<'a> {
    pieces: std::vec::IntoIter<Piece>,
    funcs: &'a [&'a str],
    defines: BTreeMap<String, Vec<Node>>,
    /// How many `range`s enclose the list being parsed.
    ranges: usize,
    depth: usize,
    /// The variables in scope, checked as Go checks them, at parse time.
    vars: Vec<String>,
}

fn word(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Word(w)) => Some(w),
        _ => None,
    }
}

impl Parser<'_> {
    /// Parses nodes up to `{{end}}`/`{{else}}` or the end of the source.
    fn list(&mut self) -> Result<(Vec<Node>, Option<End>), String> {
        let mut nodes = Vec::new();
        while let Some(piece) = self.pieces.next() {
            let toks = match piece {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Piece::Action(toks) => toks,
            };
            let rest = || toks[1..].to_vec();
            let node = match word(toks.first()) {
                Some("end") if toks.len() == 1 => return Ok((nodes, Some(End::End))),
                Some("end") => return Err("unexpected token in end".into()),
                Some("else") => return Ok((nodes, Some(End::Else(rest())))),
                Some(kw @ ("if" | "range" | "with")) => self.branch(kw, rest())?,
                Some("define") => {
                    let (name, pipe) = self.template_args(&toks[1..], "define")?;
                    if pipe.is_some() {
                        return Err("unexpected argument in define clause".into());
                    }
                    // A defined template sees only its own `$`.
                    let outer = std::mem::replace(&mut self.vars, vec!["$".into()]);
                    let body = self.until_end("define");
                    self.vars = outer;
                    self.defines.insert(name, body?);
                    continue;
                }
                Some("block") => {
                    let (name, pipe) = self.template_args(&toks[1..], "block")?;
                    let outer = std::mem::replace(&mut self.vars, vec!["$".into()]);
                    let body = self.until_end("block");
                    self.vars = outer;
                    self.defines.insert(name.clone(), body?);
                    Node::Template(name, pipe)
                }
                Some("template") => {
                    let (name, pipe) = self.template_args(&toks[1..], "template")?;
                    Node::Template(name, pipe)
                }
                Some(kw @ ("break" | "continue")) => {
                    if toks.len() > 1 {
                        return Err(format!("unexpected token in {{{{{kw}}}}}"));
                    }
                    if self.ranges == 0 {
                        return Err(format!("{{{{{kw}}}}} outside {{{{range}}}}"));
                    }
                    if kw == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    }
                }
                _ => Node::Action(self.pipeline(&toks, "command", 1)?),
            };
            nodes.push(node);
        }
        Ok((nodes, None))
    }

    fn until_end(&mut self, ctx: &str) -> Result<Vec<Node>, String> {
        match self.list()? {
            (body, Some(End::End)) => Ok(body),
            (_, Some(End::Else(_))) => Err(format!("unexpected {{{{else}}}} in {ctx}")),
            (_, None) => Err(format!("unexpected EOF in {ctx}")),
        }
    }

    /// `"name" [pipeline]` after `template`, `define` or `block`.
    fn template_args(
        &mut self,
        toks: &[Token],
        ctx: &str,
    ) -> Result<(String, Option<Pipe>), String> {
        let Some(Tok::Str(name)) = toks.first().map(|t| &t.tok) else {
            return Err(format!("unexpected name in {ctx} clause"));
        };
        let pipe = if toks.len() > 1 {
            Some(self.pipeline(&toks[1..], ctx, 0)?)
        } else {
            None
        };
        Ok((name.clone(), pipe))
    }

    /// `if`, `range` or `with`, its list, and its `else` chain.
    fn branch(&mut self, kw: &str, toks: Vec<Token>) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("template nests too deeply".into());
        }
        let vars = if kw == "range" { 2 } else { 1 };
        let mark = self.vars.len();
        let pipe = self.pipeline(&toks, kw, vars)?;
        if kw == "range" {
            self.ranges += 1;
        }
        let listed = self.list();
        if kw == "range" {
            self.ranges -= 1;
        }
        let (list, end) = listed?;
        let else_list = match end {
            None => return Err(format!("unexpected EOF in {kw}")),
            Some(End::End) => Vec::new(),
            Some(End::Else(rest)) if rest.is_empty() => self.until_end(kw)?,
            // `{{else if x}}` is `{{else}}{{if x}}...{{end}}` sharing the end.
            Some(End::Else(rest)) if kw != "range" && word(rest.first()) == Some(kw) => {
                vec![self.branch(kw, rest[1..].to_vec())?]
            }
            Some(End::Else(_)) => return Err(format!("unexpected token in else in {kw}")),
        };
        self.depth -= 1;
        self.vars.truncate(mark);
        let b = Branch {
            pipe,
            list,
            else_list,
        };
        Ok(match kw {
            "if" => Node::If(b),
            "range" => Node::Range(b),
            _ => Node::With(b),
        })
    }

    /// A pipeline, with up to `vars` declared variables.
    fn pipeline(&mut self, toks: &[Token], ctx: &str, vars: usize) -> Result<Pipe, String> {
        let mut pipe = Pipe::default();
        let mut rest = toks;
        if vars > 0 {
            let names: Vec<&str> = rest
                .iter()
                .take_while(|t| matches!(t.tok, Tok::Var(_) | Tok::Comma))
                .filter_map(|t| match &t.tok {
                    Tok::Var(v) => Some(v.as_str()),
                    _ => None,
                })
                .collect();
            let taken = names.len() * 2 - usize::from(!names.is_empty());
            if let Some(op @ (Tok::Declare | Tok::Assign)) = rest.get(taken).map(|t| &t.tok) {
                if names.len() > vars || (names.len() == 2 && *op == Tok::Assign) {
                    return Err(format!("too many declarations in {ctx}"));
                }
                pipe.decl = names.iter().map(|s| s.to_string()).collect();
                pipe.is_assign = *op == Tok::Assign;
                if pipe.is_assign {
                    self.check_vars(&pipe.decl)?;
                } else {
                    self.vars.extend(pipe.decl.iter().cloned());
                }
                rest = &rest[taken + 1..];
            }
        }
        if rest.is_empty() {
            return Err(format!("missing value for {ctx}"));
        }
        let mut depth = 0usize;
        let mut start = 0;
        for (i, t) in rest.iter().enumerate() {
            match t.tok {
                Tok::Open => depth += 1,
                Tok::Close => depth = depth.saturating_sub(1),
                Tok::Pipe if depth == 0 => {
                    pipe.cmds.push(self.command(&rest[start..i], ctx)?);
                    start = i + 1;
                }
                _ => {}
            }
        }
        pipe.cmds.push(self.command(&rest[start..], ctx)?);
        Ok(pipe)
    }

    fn check_vars(&self, names: &[String]) -> Result<(), String> {
        match names.iter().find(|n| !self.vars.contains(n)) {
            Some(n) => Err(format!("undefined variable \"{n}\"")),
            None => Ok(()),
        }
    }

    fn command(&mut self, toks: &[Token], ctx: &str) -> Result<Vec<Arg>, String> {
        if toks.is_empty() {
            return Err(format!("missing value for {ctx}"));
        }
        let mut args = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let arg = match &toks[i].tok {
                Tok::Dot => Arg::Dot,
                Tok::Field(f) => Arg::Field(vec![f.clone()]),
                Tok::Var(v) => {
                    self.check_vars(std::slice::from_ref(v))?;
                    Arg::Var(v.clone(), Vec::new())
                }
                Tok::Str(s) => Arg::Str(s.clone()),
                Tok::Num(n) => Arg::Num(*n),
                Tok::Word(w) => match w.as_str() {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "nil" => Arg::Nil,
                    f if self.funcs.contains(&f) => Arg::Func(f.to_string()),
                    w => return Err(format!("function \"{w}\" not defined")),
                },
                Tok::Open => {
                    let close = matching_close(&toks[i..])? + i;
                    let inner = self.pipeline(&toks[i + 1..close], "parenthesized pipeline", 0)?;
                    i = close;
                    Arg::Sub(Box::new(inner), Vec::new())
                }
                Tok::Close => return Err("unexpected right paren".into()),
                Tok::Pipe | Tok::Comma | Tok::Declare | Tok::Assign => {
                    return Err(format!("unexpected token in {ctx}"))
                }
            };
            i += 1;
            // Fields right after an operand, unspaced, chain onto it.
            let mut arg = arg;
            while let Some(Token {
                tok: Tok::Field(f),
                spaced: false,
            }) = toks.get(i)
            {
                match &mut arg {
                    Arg::Field(p) | Arg::Var(_, p) | Arg::Sub(_, p) => p.push(f.clone()),
                    _ => return Err(format!("unexpected . after term in {ctx}")),
                }
                i += 1;
            }
            args.push(arg);
        }
        if matches!(args[0], Arg::Nil) {
            return Err("nil is not a command".into());
        }
        Ok(args)
    }
}

/// The index of the `)` closing the `(` at `toks[0]`.
fn matching_close(toks: &[Token]) -> Result<usize, String> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        match t.tok {
            Tok::Open if depth == MAX_DEPTH => return Err("template nests too deeply".into()),
            Tok::Open => depth += 1,
            Tok::Close => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
    }
    Err("unclosed left paren".into())
}
