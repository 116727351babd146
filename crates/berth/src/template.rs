//! The part of Go's `text/template` that `--format` uses, over JSON values:
//! literal text, `{{.Field.Path}}`, `{{.}}`, string and number arguments,
//! pipes (`{{.X | json}}`), trim markers (`{{-`, `-}}`) and the functions of
//! docker's `cli/templates`: `json`, `join`, `index`, `split`, `upper`,
//! `lower`, `title`, `truncate`, `len`, `println`. No `if`, `range` or
//! variables. The `table` prefix and Docker's `tabwriter` live here too.

use models::zero::Zero;
use serde_json::Value;

/// Field path → the zero of its type (see [`models::zero`]).
pub type Zeros = std::collections::BTreeMap<String, Zero>;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Vec<Vec<Term>>),
}

#[derive(Debug, Clone, PartialEq)]
enum Term {
    /// `.A.B`; empty is `.`.
    Field(Vec<String>),
    Str(String),
    Num(i64),
    Func(String),
}

const FUNCS: [&str; 10] = [
    "json", "join", "index", "split", "upper", "lower", "title", "truncate", "len", "println",
];

fn lex_action(src: &str) -> Result<Vec<Vec<Term>>, String> {
    let mut pipeline = vec![Vec::new()];
    let mut chars = src.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '|' => {
                chars.next();
                pipeline.push(Vec::new());
            }
            '"' | '`' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated quoted string".into()),
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(o) => s.push(o),
                            None => return Err("unterminated quoted string".into()),
                        },
                        Some(o) => s.push(o),
                    }
                }
                push(&mut pipeline, Term::Str(s));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '|' || c == '"' || c == '`' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                let term = if word == "." {
                    Term::Field(Vec::new())
                } else if let Some(path) = word.strip_prefix('.') {
                    Term::Field(path.split('.').map(String::from).collect())
                } else if let Ok(n) = word.parse() {
                    Term::Num(n)
                } else if FUNCS.contains(&word.as_str()) {
                    Term::Func(word)
                } else {
                    return Err(format!("function \"{word}\" not defined"));
                };
                push(&mut pipeline, term);
            }
        }
    }
    if pipeline.iter().any(Vec::is_empty) {
        return Err("missing value for command".into());
    }
    Ok(pipeline)
}

fn push(p: &mut [Vec<Term>], t: Term) {
    if let Some(last) = p.last_mut() {
        last.push(t);
    }
}

impl Template {
    /// Parses a template.
    pub fn parse(src: &str) -> Result<Template, String> {
        let mut nodes = Vec::new();
        let mut rest = src;
        while let Some(start) = rest.find("{{") {
            let mut text = &rest[..start];
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or("unclosed action")?;
            let mut inner = &after[..end];
            if let Some(i) = inner.strip_prefix("- ") {
                inner = i;
                text = text.trim_end();
            }
            let trim_after = inner.ends_with(" -");
            if trim_after {
                inner = &inner[..inner.len() - 2];
            }
            if !text.is_empty() {
                nodes.push(Node::Text(text.to_string()));
            }
            nodes.push(Node::Action(lex_action(inner)?));
            rest = &after[end + 2..];
            if trim_after {
                rest = rest.trim_start();
            }
        }
        if !rest.is_empty() {
            nodes.push(Node::Text(rest.to_string()));
        }
        Ok(Template { nodes })
    }

    /// Renders the template against `data`, JSON of no known type: a
    /// `null` prints `<nil>` and a missing field `<no value>`, as Go's
    /// templates print a decoded `interface{}`.
    pub fn render(&self, data: &Value) -> Result<String, String> {
        self.render_with(data, &Zeros::new(), false)
    }

    /// Renders the template against `data` of a Docker type, as docker's
    /// templates run on its typed structs: a field that is `null` or left
    /// out prints its type's zero (`zeros`, from [`models::zero::zeros`]):
    /// `[]`, `map[]`, `<nil>`, `""`, `false`, `0`.
    pub fn render_typed(&self, data: &Value, zeros: &Zeros) -> Result<String, String> {
        self.render_with(data, zeros, false)
    }

    /// Renders a table's header: `headers` maps each field to its title and
    /// every function passes its argument through, as docker's
    /// `HeaderFunctions` do.
    pub fn render_header(&self, headers: &Value) -> String {
        self.render_with(headers, &Zeros::new(), true)
            .unwrap_or_default()
    }

    fn render_with(&self, data: &Value, zeros: &Zeros, header: bool) -> Result<String, String> {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => {
                    let v = eval_pipeline(p, data, zeros, header)?;
                    // `{{.Config.Cmd}}` alone: its field's type decides.
                    let zero = match p.last().map(Vec::as_slice) {
                        Some([Term::Field(path)]) => zeros.get(&path.join(".")).copied(),
                        _ => None,
                    };
                    out.push_str(&print_value(&v, zero, header));
                }
            }
        }
        Ok(out)
    }

    /// Every field path the template reads (`.Actor.ID` is `["Actor", "ID"]`).
    pub fn fields(&self) -> Vec<&[String]> {
        self.nodes
            .iter()
            .filter_map(|n| match n {
                Node::Action(p) => Some(p),
                Node::Text(_) => None,
            })
            .flatten()
            .flatten()
            .filter_map(|t| match t {
                Term::Field(f) => Some(f.as_slice()),
                _ => None,
            })
            .collect()
    }

    /// The field names the template reads (to ask only for what it shows).
    pub fn mentions(&self, field: &str) -> bool {
        self.nodes.iter().any(|n| match n {
            Node::Action(p) => p
                .iter()
                .flatten()
                .any(|t| matches!(t, Term::Field(f) if f.first().is_some_and(|x| x == field))),
            Node::Text(_) => false,
        })
    }
}

fn field<'a>(data: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(data, |v, k| v.get(k))
}

/// A field's value as docker's templates see it: what the daemon sent,
/// or, where it sent `null` or nothing, the zero of the field's type.
fn lookup(data: &Value, zeros: &Zeros, path: &[String]) -> Option<Value> {
    match field(data, path) {
        Some(Value::Null) | None => match zeros.get(&path.join(".")) {
            Some(z) => Some(z.json()),
            None => field(data, path).cloned(),
        },
        Some(v) => Some(v.clone()),
    }
}

/// How an action's value prints: a nil slice or map prints as Go prints
/// it, empty, when its type is known.
fn print_value(v: &Value, zero: Option<Zero>, header: bool) -> String {
    match (v, zero) {
        (Value::Null, Some(z)) if !header => z.text().into(),
        _ => to_text(v, header),
    }
}

fn eval_pipeline(
    p: &[Vec<Term>],
    data: &Value,
    zeros: &Zeros,
    header: bool,
) -> Result<Value, String> {
    let mut prev: Option<Value> = None;
    for cmd in p {
        let mut args: Vec<Value> = Vec::new();
        let func = match &cmd[0] {
            Term::Func(f) => Some(f.as_str()),
            _ => None,
        };
        for t in &cmd[usize::from(func.is_some())..] {
            args.push(match t {
                Term::Field(path) => match lookup(data, zeros, path) {
                    Some(v) => v,
                    None if header => Value::String(String::new()),
                    None => Value::String("<no value>".into()),
                },
                Term::Str(s) => Value::String(s.clone()),
                Term::Num(n) => Value::from(*n),
                Term::Func(f) => return Err(format!("can't give argument to non-function {f}")),
            });
        }
        args.extend(prev.take());
        prev = Some(match func {
            None if args.len() == 1 => args.remove(0),
            None => return Err("can't give argument to non-function".into()),
            Some(_) if header => args.into_iter().next().unwrap_or(Value::Null),
            Some(f) => call(f, args)?,
        });
    }
    Ok(prev.unwrap_or(Value::Null))
}

fn call(f: &str, args: Vec<Value>) -> Result<Value, String> {
    let want = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "wrong number of args for {f}: want {n} got {}",
                args.len()
            ))
        }
    };
    let text = |v: &Value| to_text(v, false);
    Ok(match f {
        "json" => {
            want(1)?;
            Value::String(serde_json::to_string(&args[0]).unwrap_or_default())
        }
        "join" => {
            want(2)?;
            let items: Vec<String> = match &args[0] {
                Value::Array(a) => a.iter().map(text).collect(),
                v => vec![text(v)],
            };
            Value::String(items.join(&text(&args[1])))
        }
        "index" => {
            want(2)?;
            match (&args[0], &args[1]) {
                (Value::Object(o), k) => o.get(&text(k)).cloned().unwrap_or(Value::Null),
                (Value::Array(a), Value::Number(n)) => n
                    .as_u64()
                    .and_then(|i| a.get(usize::try_from(i).ok()?))
                    .cloned()
                    .ok_or_else(|| format!("error calling index: index out of range: {n}"))?,
                _ => return Err("error calling index: can't index item".into()),
            }
        }
        "split" => {
            want(2)?;
            Value::Array(
                text(&args[0])
                    .split(&text(&args[1]))
                    .map(|s| Value::String(s.into()))
                    .collect(),
            )
        }
        "upper" => {
            want(1)?;
            Value::String(text(&args[0]).to_uppercase())
        }
        "lower" => {
            want(1)?;
            Value::String(text(&args[0]).to_lowercase())
        }
        "title" => {
            want(1)?;
            let t = text(&args[0]);
            let mut out = String::with_capacity(t.len());
            let mut start = true;
            for c in t.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = !c.is_alphanumeric();
            }
            Value::String(out)
        }
        "truncate" => {
            want(2)?;
            let n = args[1].as_u64().unwrap_or(0);
            Value::String(
                text(&args[0])
                    .chars()
                    .take(usize::try_from(n).unwrap_or(usize::MAX))
                    .collect(),
            )
        }
        "len" => {
            want(1)?;
            Value::from(match &args[0] {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::String(s) => s.len(),
                _ => return Err("error calling len: len of non-collection".into()),
            })
        }
        "println" => {
            let parts: Vec<String> = args.iter().map(text).collect();
            Value::String(format!("{}\n", parts.join(" ")))
        }
        _ => return Err(format!("function \"{f}\" not defined")),
    })
}

/// A value as Go's `fmt` prints an `interface{}` decoded from JSON: slices
/// as `[a b]`, maps as `map[k:v]` with sorted keys, null as `<nil>`.
fn to_text(v: &Value, header: bool) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null if header => String::new(),
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|x| to_text(x, header)).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", to_text(&o[*k], header)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// A `--format` as docker's formatter prepares it: `table` shows a header
/// and aligns columns; `\t` and `\n` typed literally become tab and newline;
/// `json` is `{{json .}}`.
#[derive(Debug, Clone)]
pub struct Format {
    /// The row template.
    pub template: Template,
    /// Whether rows go through the table writer under a header.
    pub table: bool,
}

impl Format {
    /// Parses a `--format` value.
    pub fn parse(format: &str) -> Result<Format, String> {
        // As docker's `Format.IsTable`: the prefix alone decides.
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, format),
        };
        let body = body
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let body = if body == "json" {
            "{{json .}}".to_string()
        } else {
            body
        };
        let template =
            Template::parse(&body).map_err(|e| format!("template parsing error: {e}"))?;
        Ok(Format { template, table })
    }

    /// Renders every row (each followed by a newline), under the header
    /// when a table.
    pub fn render_all(&self, headers: &Value, rows: &[Value]) -> Result<String, String> {
        let mut text = String::new();
        if self.table {
            text.push_str(&self.template.render_header(headers));
            text.push('\n');
        }
        for r in rows {
            text.push_str(&self.template.render(r)?);
            text.push('\n');
        }
        Ok(if self.table { tabwrite(&text) } else { text })
    }
}

/// Go's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`, as docker's tables use:
/// tab-terminated cells are padded to their column's widest cell plus three
/// (at least ten); a column runs over consecutive lines that have that cell.
pub fn tabwrite(text: &str) -> String {
    tabwrite_min(text, 10)
}

/// [`tabwrite`] with another minimum cell width (`docker top` uses 20).
pub fn tabwrite_min(text: &str, min_width: usize) -> String {
    const PADDING: usize = 3;
    let lines: Vec<Vec<&str>> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .map(|l| l.split('\t').collect())
        .collect();
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(
        &lines,
        0,
        lines.len(),
        &mut widths,
        &mut out,
        min_width,
        PADDING,
    );
    if !text.is_empty() {
        out.push('\n');
    }
    out
}

fn format_block(
    lines: &[Vec<&str>],
    line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
    min_width: usize,
    padding: usize,
) {
    let column = widths.len();
    let mut pos = line0;
    let mut this = line0;
    while this < line1 {
        // A line whose cells reach this column starts a block.
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, pos, this, widths, out);
        let start = this;
        let mut width = min_width;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + padding);
            this += 1;
        }
        widths.push(width);
        format_block(lines, start, this, widths, out, min_width, padding);
        widths.pop();
        pos = this;
    }
    write_lines(lines, pos, line1, widths, out);
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        if i > 0 {
            out.push('\n');
        }
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths.get(j).filter(|_| j + 1 < line.len()) {
                let n = w.saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', n));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_docker_templates() {
        let data = json!({
            "Name": "/web", "State": {"Status": "running", "Pid": 42, "Running": true},
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "1"}, "Cmd": null},
        });
        let zeros = models::zero::zeros::<models::container::Inspect>(&data);
        for (tmpl, want) in [
            ("{{.Name}}", "/web"),
            ("{{.State.Status}} {{.State.Pid}}", "running 42"),
            ("{{.State.Running}}", "true"),
            ("{{.Config.Env}}", "[A=1 B=2]"),
            ("{{.Config.Labels}}", "map[a:1 b:2]"),
            ("{{json .Config.Env}}", r#"["A=1","B=2"]"#),
            ("{{.Config.Env | json}}", r#"["A=1","B=2"]"#),
            ("{{join .Config.Env \",\"}}", "A=1,B=2"),
            ("{{index .Config.Labels \"a\"}}", "1"),
            ("{{index .Config.Env 1}}", "B=2"),
            ("{{upper .State.Status}}", "RUNNING"),
            ("{{.Config.Cmd}}", "[]"),
            ("{{json .Config.Cmd}}", "null"),
            ("{{.Config.Labels.x}}", "<no value>"),
            ("{{.HostConfig.Memory}}", "<no value>"),
            ("{{.Config.Volumes}}", "map[]"),
            ("{{.Config.StopSignal}}", ""),
            ("{{json .Config.Volumes}}", "null"),
            ("{{.State.Health}}", "<nil>"),
            ("{{.State.ExitCode}}", "0"),
            ("{{.Nope}}", "<no value>"),
            ("{{.Nope.Deeper}}", "<no value>"),
            ("a {{- .Name -}} b", "a/webb"),
            ("{{len .Config.Env}}", "2"),
            (
                "{{json .State}}",
                r#"{"Pid":42,"Running":true,"Status":"running"}"#,
            ),
            ("{{truncate .Name 2}}", "/w"),
            ("{{title \"hello world\"}}", "Hello World"),
        ] {
            let t = Template::parse(tmpl).unwrap();
            assert_eq!(t.render_typed(&data, &zeros).unwrap(), want, "{tmpl}");
        }
        // Without a type, as Go's templates over decoded JSON.
        let t = Template::parse("{{.Config.Cmd}}|{{.Config.Volumes}}").unwrap();
        assert_eq!(t.render(&data).unwrap(), "<nil>|<no value>");
    }

    #[test]
    fn rejects_what_it_cannot_do() {
        assert!(Template::parse("{{.A").is_err());
        assert!(Template::parse("{{nosuch .A}}").is_err());
        assert!(Template::parse("{{}}").is_err());
        let t = Template::parse("{{index .A 5}}").unwrap();
        assert!(t.render(&json!({"A": [1]})).is_err());
    }

    #[test]
    fn tables_align_like_go_tabwriter() {
        let f = Format::parse("table {{.ID}}\\t{{.Name}}\\t{{json .N}}").unwrap();
        let rows = [
            json!({"ID": "abc", "Name": "a-long-container-name", "N": 1}),
            json!({"ID": "d", "Name": "b", "N": 2}),
        ];
        let out = f
            .render_all(
                &json!({"ID": "CONTAINER ID", "Name": "NAMES", "N": "N"}),
                &rows,
            )
            .unwrap();
        assert_eq!(
            out,
            "CONTAINER ID   NAMES                   N\n\
             abc            a-long-container-name   1\n\
             d              b                       2\n"
        );
        let plain = Format::parse("{{.ID}}:{{.Name}}").unwrap();
        assert_eq!(
            plain.render_all(&json!({}), &rows).unwrap(),
            "abc:a-long-container-name\nd:b\n"
        );
        assert!(Format::parse("json")
            .unwrap()
            .render_all(&json!({}), &rows[1..])
            .unwrap()
            .starts_with("{\"ID\":\"d\""));
    }
}
