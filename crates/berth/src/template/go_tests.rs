//! Go's `text/template` behaviour, checked against Go 1.19's own output
//! for these templates (where Go decodes the numbers as `float64` and
//! docker's typed structs hold `int`s, the `int` answers are kept: those
//! are the ones docker prints).

use serde_json::json;

use super::Template;

fn data() -> serde_json::Value {
    json!({
        "Name": "/web",
        "State": {"Status": "running", "Pid": 42, "Running": true},
        "Config": {"Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "1"}},
        "Mounts": [{"Destination": "/a"}, {"Destination": "/b"}, {"Destination": "/c"}],
        "Empty": [], "Zero": 0, "EmptyStr": ""
    })
}

#[test]
fn renders_as_go_does() {
    let data = data();
    for (tmpl, want) in [
        (r#"{{range .Mounts}}{{.Destination}} {{end}}"#, "/a /b /c "),
        (r#"{{if .State.Running}}up{{else}}down{{end}}"#, "up"),
        (r#"{{if not .State.Running}}up{{else if eq .State.Pid 42}}pid42{{else}}other{{end}}"#, "pid42"),
        (r#"{{with .State}}{{.Status}}/{{.Pid}}{{end}}"#, "running/42"),
        (r#"{{with .Nope}}yes{{else}}no{{end}}"#, "no"),
        (r#"{{range $i, $m := .Mounts}}{{$i}}={{$m.Destination}};{{end}}"#, "0=/a;1=/b;2=/c;"),
        (r#"{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}},{{end}}"#, "a:1,b:2,"),
        (r#"{{$n := .Name}}{{$n}}{{$n = "x"}}{{$n}}"#, "/webx"),
        (r#"{{range .Mounts}}{{if eq .Destination "/b"}}{{break}}{{end}}{{.Destination}}{{end}}"#, "/a"),
        (r#"{{range .Mounts}}{{if eq .Destination "/a"}}{{continue}}{{end}}{{.Destination}}{{end}}"#, "/b/c"),
        (r#"{{range .Empty}}x{{else}}empty{{end}}"#, "empty"),
        (r#"{{len .Mounts}} {{index .Mounts 1 | printf "%v"}} {{(index .Mounts 0).Destination}}"#, "3 map[Destination:/b] /a"),
        (r#"{{printf "%-8s|%5d|%05.1f|%q|%x|%t|%v" .Name .State.Pid 3.14159 "a\"b" "hi" true .Config.Env}}"#, "/web    |   42|003.1|\"a\\\"b\"|6869|true|[A=1 B=2]"),
        (r#"{{printf "%s %d" .State.Pid "x"}} {{printf "%d"}} {{printf "x" 1}}"#, "%!s(int=42) %!d(string=x) %!d(MISSING) x%!(EXTRA int=1)"),
        (r#"{{print 1 2 "a" "b" 3 nil}}|{{println "a" 1}}|"#, "1 2ab3 <nil>|a 1\n|"),
        (r#"{{and 1 0 2}} {{or 0 "" "z"}} {{and 1 2}} {{or 0 ""}}"#, "0 z 2 "),
        (r#"{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}} {{ne "a" "b"}} {{eq 1 2 3 1}}"#, "true true true false true true"),
        (r#"{{html "<a href='x'>&</a>"}} {{js "it's <x>\n"}} {{urlquery "a b&c=d/é"}}"#, "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; it\\'s \\u003Cx\\u003E\\u000A a+b%26c%3Dd%2F%C3%A9"),
        (r#"{{slice "hello" 1 3}} {{slice .Config.Env 1}} {{index "abc" 1}}"#, "el [B=2] 98"),
        (r#"{{define "T"}}[{{.}}]{{end}}{{template "T" .Name}}{{template "T" 5}}"#, "[/web][5]"),
        (r#"{{block "B" .State.Status}}<{{.}}>{{end}}"#, "<running>"),
        (r#"{{- /* comment */ -}}   x   {{- 3 -}}   y"#, "x3y"),
        (r#"{{.State}} {{.Config.Env}} {{.Mounts}}"#, "map[Pid:42 Running:true Status:running] [A=1 B=2] [map[Destination:/a] map[Destination:/b] map[Destination:/c]]"),
        (r#"{{range 3}}{{.}}{{end}}"#, "012"),
        (r#"{{$.Name}}{{with .State}}{{$.Name}}{{.Pid}}{{end}}"#, "/web/web42"),
        (r#"{{if and .State.Running (gt .State.Pid 10)}}big{{end}}"#, "big"),
        (r#"{{.Name | printf "%s!" | printf "%s?"}}"#, "/web!?"),
        (r#"{{"quoted"}} {{`raw\n`}} {{'a'}} {{0x10}} {{1e3}} {{-5}} {{2.50}}"#, "quoted raw\\n 97 16 1000 -5 2.5"),
        (r#"{{with $x := .State.Pid}}{{$x}}{{end}}"#, "42"),
        (r#"{{if .Config.Labels}}L{{end}}{{if .Empty}}E{{end}}{{if .Zero}}Z{{end}}{{if .EmptyStr}}S{{end}}"#, "L"),
        (r#"{{index .Config.Labels "a"}} {{index .Config.Labels "zz"}} {{.Config.Labels.zz}}"#, "1 <no value> <no value>"),
    ] {
        let t = Template::parse(tmpl).unwrap_or_else(|e| panic!("{tmpl}: {e}"));
        assert_eq!(t.render(&data).unwrap(), want, "{tmpl}");
    }
}

#[test]
fn refuses_what_go_refuses() {
    for tmpl in [
        r#"{{nosuch}}"#,
        r#"{{if}}x{{end}}"#,
        r#"{{break}}"#,
        r#"{{end}}"#,
        r#"{{range .Mounts}}{{else}}{{else}}{{end}}"#,
        r#"{{$u}}"#,
    ] {
        assert!(Template::parse(tmpl).is_err(), "{tmpl} parses");
    }
    let data = data();
    for tmpl in [
        r#"{{.Name .State}}"#,
        r#"{{range .Name}}x{{end}}"#,
        r#"{{template "nope"}}"#,
        r#"{{index .Mounts 9}}"#,
        r#"{{len 3}}"#,
    ] {
        let t = Template::parse(tmpl).unwrap_or_else(|e| panic!("{tmpl}: {e}"));
        assert!(t.render(&data).is_err(), "{tmpl} renders");
    }
}
