//! Running a parsed template, as Go's `text/template` `exec.go` does:
//! dot and variables, `if`/`range`/`with` with Go's truth, `range` over
//! slices, maps (sorted keys) and integers, `break`/`continue`, templates
//! called by name, and pipelines whose value passes on as the last
//! argument of the next command.

use serde_json::Value;

use super::funcs;
use super::lex::Num;
use super::parse::{Arg, Branch, Node, Pipe, Tree};
use super::value::Val;
use super::Zeros;

/// How deep `{{template}}` calls may nest (Go's `maxExecDepth` is 100000
/// on a goroutine stack that grows; ours does not).
const MAX_EXEC_DEPTH: usize = 1000;

/// What ends a list early.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// One run of a template.
pub(super) struct State<'a> {
    tree: &'a Tree,
    zeros: &'a Zeros,
    /// A table's header: docker's functions pass their argument through.
    header: bool,
    /// The data stands for docker's typed structs (see `funcs::call`).
    typed: bool,
    vars: Vec<(String, Val)>,
    depth: usize,
    pub(super) out: String,
}

impl<'a> State<'a> {
    pub(super) fn new(tree: &'a Tree, zeros: &'a Zeros, header: bool, typed: bool) -> State<'a> {
        State {
            tree,
            zeros,
            header,
            typed,
            vars: Vec::new(),
            depth: 0,
            out: String::new(),
        }
    }

    /// Runs the template on `data`.
    pub(super) fn run(&mut self, data: &Value) -> Result<(), String> {
        let dot = Val::root(data);
        self.vars.push(("$".into(), dot.clone()));
        let tree: &'a Tree = self.tree;
        self.list(&dot, &tree.root)?;
        Ok(())
    }

    fn list(&mut self, dot: &Val, nodes: &[Node]) -> Result<Flow, String> {
        for n in nodes {
            let flow = self.node(dot, n)?;
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn node(&mut self, dot: &Val, n: &Node) -> Result<Flow, String> {
        match n {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(p) => {
                let v = self.pipe(dot, p)?;
                if p.decl.is_empty() {
                    let text = v.text(self.header);
                    self.out.push_str(&text);
                }
            }
            Node::If(b) | Node::With(b) => {
                let mark = self.vars.len();
                let v = self.pipe(dot, &b.pipe)?;
                let flow = match (v.truth(), matches!(n, Node::With(_))) {
                    (true, true) => self.list(&v, &b.list),
                    (true, false) => self.list(dot, &b.list),
                    (false, _) => self.list(dot, &b.else_list),
                };
                self.vars.truncate(mark);
                return flow;
            }
            Node::Range(b) => return self.range(dot, b),
            Node::Template(name, pipe) => {
                let tree: &'a Tree = self.tree;
                let body = tree
                    .defines
                    .get(name)
                    .ok_or_else(|| format!("no such template \"{name}\""))?;
                let new_dot = match pipe {
                    Some(p) => self.pipe(dot, p)?,
                    None => Val::from(Value::Null),
                };
                if self.depth >= MAX_EXEC_DEPTH {
                    return Err(format!(
                        "exceeded maximum template depth ({MAX_EXEC_DEPTH})"
                    ));
                }
                // A called template sees its own `$` and none of ours.
                let vars = std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
                self.depth += 1;
                let r = self.list(&new_dot, body);
                self.depth -= 1;
                self.vars = vars;
                r?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn range(&mut self, dot: &Val, b: &Branch) -> Result<Flow, String> {
        let mark = self.vars.len();
        let undeclared = Pipe {
            decl: Vec::new(),
            ..b.pipe.clone()
        };
        let v = self.pipe(dot, &undeclared)?;
        let items: Vec<(Val, Val)> = match &v.v {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    (
                        Val::from(Value::from(i)),
                        v.child(&i.to_string(), x.clone()),
                    )
                })
                .collect(),
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                keys.into_iter()
                    .map(|k| {
                        (
                            Val::from(Value::String(k.clone())),
                            v.child(k, o[k].clone()),
                        )
                    })
                    .collect()
            }
            Value::Number(n) if n.as_i64().is_some() => (0..n.as_i64().unwrap_or(0))
                .map(|i| (Val::from(Value::from(i)), Val::from(Value::from(i))))
                .collect(),
            Value::Null => Vec::new(),
            other => {
                return Err(format!(
                    "range can't iterate over {}",
                    super::value::to_text(other, false)
                ))
            }
        };
        if items.is_empty() {
            let flow = self.list(dot, &b.else_list);
            self.vars.truncate(mark);
            return flow;
        }
        for (key, elem) in items {
            match b.pipe.decl.as_slice() {
                [e] => self.vars.push((e.clone(), elem.clone())),
                [k, e] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((e.clone(), elem.clone()));
                }
                _ => {}
            }
            let flow = self.list(&elem, &b.list);
            self.vars.truncate(mark);
            if matches!(flow?, Flow::Break) {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    /// A pipeline's value, declaring or assigning its variables.
    fn pipe(&mut self, dot: &Val, p: &Pipe) -> Result<Val, String> {
        let mut prev = None;
        for cmd in &p.cmds {
            prev = Some(self.command(dot, cmd, prev)?);
        }
        let v = prev.unwrap_or_else(|| Val::from(Value::Null));
        for name in &p.decl {
            if p.is_assign {
                let slot = self
                    .vars
                    .iter_mut()
                    .rev()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| format!("undefined variable: {name}"))?;
                slot.1 = v.clone();
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn command(&mut self, dot: &Val, args: &[Arg], prev: Option<Val>) -> Result<Val, String> {
        match &args[0] {
            Arg::Func(name) => self.call(dot, name, &args[1..], prev),
            first => {
                if args.len() > 1 || prev.is_some() {
                    return Err(format!(
                        "can't give argument to non-function {}",
                        describe(first)
                    ));
                }
                self.arg(dot, first)
            }
        }
    }

    fn call(
        &mut self,
        dot: &Val,
        name: &str,
        args: &[Arg],
        prev: Option<Val>,
    ) -> Result<Val, String> {
        // `and` and `or` stop at the first argument that decides.
        if name == "and" || name == "or" {
            if args.is_empty() && prev.is_none() {
                return Err(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                ));
            }
            let mut last = Val::from(Value::Null);
            for a in args {
                last = self.arg(dot, a)?;
                if last.truth() == (name == "or") {
                    return Ok(last);
                }
            }
            return Ok(prev.unwrap_or(last));
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(dot, a)?);
        }
        vals.extend(prev);
        if self.header && funcs::DOCKER.contains(&name) {
            return Ok(vals
                .into_iter()
                .next()
                .unwrap_or_else(|| Val::from(Value::String(String::new()))));
        }
        funcs::call(name, vals, self.typed)
    }

    fn arg(&mut self, dot: &Val, a: &Arg) -> Result<Val, String> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Nil => Val::from(Value::Null),
            Arg::Bool(b) => Val::from(Value::Bool(*b)),
            Arg::Num(Num::Int(n)) => Val::from(Value::from(*n)),
            Arg::Num(Num::Float(f)) => Val::from(Value::from(*f)),
            Arg::Str(s) => Val::from(Value::String(s.clone())),
            Arg::Field(path) => self.chain(dot.clone(), path),
            Arg::Var(name, path) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("undefined variable: {name}"))?;
                self.chain(v, path)
            }
            Arg::Func(name) => self.call(dot, name, &[], None)?,
            Arg::Sub(p, path) => {
                let v = self.pipe(dot, p)?;
                self.chain(v, path)
            }
        })
    }

    fn chain(&self, mut v: Val, path: &[String]) -> Val {
        for name in path {
            v = v.field(name, self.zeros);
        }
        v
    }
}

fn describe(a: &Arg) -> String {
    match a {
        Arg::Dot => ".".into(),
        Arg::Field(p) => format!(".{}", p.join(".")),
        Arg::Var(n, p) if p.is_empty() => n.clone(),
        Arg::Var(n, p) => format!("{n}.{}", p.join(".")),
        Arg::Str(s) => format!("{s:?}"),
        Arg::Num(Num::Int(n)) => n.to_string(),
        Arg::Num(Num::Float(f)) => f.to_string(),
        Arg::Bool(b) => b.to_string(),
        Arg::Nil => "nil".into(),
        Arg::Func(f) => f.clone(),
        Arg::Sub(..) => "(pipeline)".into(),
    }
}
