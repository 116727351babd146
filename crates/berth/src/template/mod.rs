//! Go's `text/template`, as `--format` uses it, over JSON values: text,
//! actions with pipelines, fields and variables, `if`/`else if`/`else`,
//! `range` (with `$i, $v :=`, `else`, `break`, `continue`), `with`,
//! `define`/`template`/`block`, comments and trim markers; Go's builtin
//! functions and docker's (`cli/templates`: `json`, `join`, `table`,
//! `upper`, `lower`, `title`, `split`, `truncate`, `pad`). The `table`
//! prefix and Go's `tabwriter` with docker's settings live here too.
//!
//! Written here rather than taken from `gtmpl` (0.7, 2021): its values are
//! hash maps, so a map would not print sorted as Go prints it, and it has no
//! place for what docker's typed structs add (a nil slice prints `[]`, a
//! missing field `<no value>`), which [`Zeros`] carries.
//!
//! `lex` splits the source, `parse` builds the tree, `exec` runs it with
//! `funcs` and `printf`, on the values of `value`; `tabwrite` aligns tables.

mod exec;
mod funcs;
#[cfg(test)]
mod go_tests;
mod lex;
mod parse;
mod printf;

pub(crate) use printf::quote as go_quote;
mod tabwrite;
mod value;

use serde_json::Value;

pub use tabwrite::{tabwrite, tabwrite_min};

/// Field path → the zero of its type (see [`models::zero`]).
pub type Zeros = std::collections::BTreeMap<String, models::zero::Zero>;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    tree: parse::Tree,
}

impl Template {
    /// Parses a template.
    pub fn parse(src: &str) -> Result<Template, String> {
        Ok(Template {
            tree: parse::parse(src, &funcs::ALL)?,
        })
    }

    /// Renders the template against `data`, JSON of no known type: a
    /// `null` prints `<nil>` and a missing field `<no value>`, as Go's
    /// templates print a decoded `interface{}`.
    pub fn render(&self, data: &Value) -> Result<String, String> {
        self.render_with(data, &Zeros::new(), false, false)
    }

    /// Renders the template against `data` of a Docker type, as docker's
    /// templates run on its typed structs: a field that is `null` or left
    /// out prints its type's zero (`zeros`, from [`models::zero::zeros`]):
    /// `[]`, `map[]`, `<nil>`, `""`, `false`, `0`.
    pub fn render_typed(&self, data: &Value, zeros: &Zeros) -> Result<String, String> {
        self.render_with(data, zeros, false, true)
    }

    /// Renders a table's header: `headers` maps each field to its title and
    /// docker's functions pass their argument through, as docker's
    /// `HeaderFunctions` do. As docker, a header that fails to render
    /// shows what it rendered before the failure.
    pub fn render_header(&self, headers: &Value) -> String {
        let zeros = Zeros::new();
        let mut state = exec::State::new(&self.tree, &zeros, true, false);
        let _partial = state.run(headers);
        state.out
    }

    fn render_with(
        &self,
        data: &Value,
        zeros: &Zeros,
        header: bool,
        typed: bool,
    ) -> Result<String, String> {
        let mut state = exec::State::new(&self.tree, zeros, header, typed);
        state.run(data)?;
        Ok(state.out)
    }

    /// Every field path read from the data's root as dot (`.Actor.ID` is
    /// `["Actor", "ID"]`); not those read inside `range` and `with`,
    /// where dot is another value.
    pub fn fields(&self) -> Vec<&[String]> {
        let mut out = Vec::new();
        let lists = std::iter::once(&self.tree.root).chain(self.tree.defines.values());
        for list in lists {
            fields_of(list, &mut out);
        }
        out
    }

    /// Whether the template reads the top-level field `field` (to ask only
    /// for what it shows).
    pub fn mentions(&self, field: &str) -> bool {
        self.fields()
            .iter()
            .any(|f| f.first().is_some_and(|x| x == field))
    }
}

fn fields_of<'a>(nodes: &'a [parse::Node], out: &mut Vec<&'a [String]>) {
    use parse::{Arg, Node, Pipe};
    fn pipe<'a>(p: &'a Pipe, out: &mut Vec<&'a [String]>) {
        for arg in p.cmds.iter().flatten() {
            match arg {
                Arg::Field(f) => out.push(f),
                Arg::Sub(p, _) => pipe(p, out),
                _ => {}
            }
        }
    }
    for n in nodes {
        match n {
            Node::Action(p) | Node::Template(_, Some(p)) => pipe(p, out),
            Node::If(b) => {
                pipe(&b.pipe, out);
                fields_of(&b.list, out);
                fields_of(&b.else_list, out);
            }
            // Inside, dot is another value: only the `else` sees this one.
            Node::Range(b) | Node::With(b) => {
                pipe(&b.pipe, out);
                fields_of(&b.else_list, out);
            }
            _ => {}
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
    fn control_structures_see_typed_zeros() {
        let data = json!({
            "State": {"Running": false, "Health": null},
            "Config": {"Cmd": null, "Env": ["A=1"], "Labels": null},
            "Mounts": [{"Destination": "/data", "Name": null}],
        });
        let zeros = models::zero::zeros::<models::container::Inspect>(&data);
        for (tmpl, want) in [
            ("{{range .Mounts}}{{.Destination}} {{end}}", "/data "),
            ("{{range .Mounts}}[{{.Name}}]{{end}}", "[]"),
            ("{{if .State.Running}}up{{else}}down{{end}}", "down"),
            ("{{with .State.Health}}h{{else}}none{{end}}", "none"),
            (
                "{{with .Config}}{{.Cmd}} {{.Labels}} {{len .Cmd}}{{end}}",
                "[] map[] 0",
            ),
            ("{{$c := .Config.Cmd}}{{$c}} {{json $c}}", "[] null"),
            ("{{range .Config.Cmd}}x{{else}}no cmd{{end}}", "no cmd"),
            ("{{json .Config.Env}}", r#"["A=1"]"#),
            ("{{pad (index .Config.Env 0) 1 0}}", " A=1"),
        ] {
            let t = Template::parse(tmpl).unwrap_or_else(|e| panic!("{tmpl}: {e}"));
            assert_eq!(t.render_typed(&data, &zeros).unwrap(), want, "{tmpl}");
        }
    }

    #[test]
    fn docker_functions() {
        let t = |s: &str| Template::parse(s).unwrap().render(&json!({})).unwrap();
        assert_eq!(t(r#"{{pad "ab" 1 2}}|{{pad "" 1 2}}|"#), " ab  ||");
        assert_eq!(
            t(r#"{{split "a,b" ","}} {{join (split "a,b" ",") "-"}}"#),
            "[a b] a-b"
        );
        assert_eq!(t(r#"{{json (split "a<b" ",")}}"#), r#"["a<b"]"#);
        assert_eq!(
            t(r#"{{upper "é"}}{{lower "AB"}}{{title "a-b c"}}"#),
            "ÉabA-B C"
        );
        // A header passes docker's functions through, and runs Go's.
        let h = Template::parse("{{upper .A}}|{{truncate .B 1}}|{{printf \"%-4s|\" .C}}").unwrap();
        assert_eq!(
            h.render_header(&json!({"A": "Id", "B": "NAME", "C": "X"})),
            "Id|NAME|X   |"
        );
    }

    #[test]
    fn fields_are_those_read_from_the_root() {
        let t = Template::parse(
            "{{.A.B}}{{if .C}}{{.D}}{{end}}{{with .E}}{{.Inner}}{{else}}{{.F}}{{end}}{{range .G}}{{.X}}{{end}}{{(index .H 0)}}",
        )
        .unwrap();
        let got: Vec<String> = t.fields().iter().map(|f| f.join(".")).collect();
        assert_eq!(got, ["A.B", "C", "D", "E", "F", "G", "H"]);
        assert!(t.mentions("G") && !t.mentions("Inner"));
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
