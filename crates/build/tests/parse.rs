//! The Dockerfile parser against what `docker build` accepts and refuses.

use build::{parse, ArgDecl, Command, Dockerfile, Healthcheck, Heredoc, Instruction, Kind};

fn ok(text: &str) -> Dockerfile {
    match parse(text, "Dockerfile") {
        Ok(d) => d,
        Err(e) => panic!("{text:?} should parse: {e}"),
    }
}

/// The instructions of the only stage.
fn instrs(text: &str) -> Vec<Instruction> {
    let d = ok(text);
    assert_eq!(d.stages.len(), 1, "{text:?}");
    d.stages.into_iter().next().unwrap().instructions
}

/// The kind of the one instruction after `FROM scratch`.
fn one(line: &str) -> Kind {
    let mut i = instrs(&format!("FROM scratch\n{line}\n"));
    assert_eq!(i.len(), 1, "{line:?}");
    i.remove(0).kind
}

/// The error for a Dockerfile: (line, column, message).
fn err(text: &str) -> (usize, usize, String) {
    match parse(text, "Dockerfile") {
        Ok(d) => panic!("{text:?} should fail, got {d:?}"),
        Err(e) => {
            assert_eq!(e.file, "Dockerfile");
            (e.line, e.column, e.message)
        }
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn shell(s: &str) -> Command {
    Command::Shell(s.into())
}

#[test]
fn from_forms() {
    let d = ok(
        "FROM alpine:3.19\nfrom --platform=$BUILDPLATFORM golang AS Build\nFROM build as final\n",
    );
    assert_eq!(d.stages.len(), 3);
    assert_eq!(d.stages[0].base, "alpine:3.19");
    assert_eq!(d.stages[0].name, None);
    assert_eq!(d.stages[0].platform, None);
    assert_eq!(d.stages[0].from.line, 1);
    assert_eq!(d.stages[0].from.text, "FROM alpine:3.19");
    assert_eq!(d.stages[1].base, "golang");
    assert_eq!(d.stages[1].name.as_deref(), Some("build"));
    assert_eq!(d.stages[1].platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(d.stages[1].from.line, 2);
    assert_eq!(d.stages[2].name.as_deref(), Some("final"));
    assert_eq!(d.directives.escape, '\\');
    assert_eq!(d.directives.syntax, None);
}

#[test]
fn from_errors() {
    let cases = [
        ("FROM\n", "FROM requires either one or three arguments"),
        ("FROM a b\n", "FROM requires either one or three arguments"),
        ("FROM a is b\n", "FROM requires either one or three arguments"),
        ("FROM a AS b c\n", "FROM requires either one or three arguments"),
        (
            "FROM a AS 1x\n",
            "invalid name for build stage: \"1x\", name can't start with a number or contain symbols",
        ),
        ("FROM --os=linux a\n", "unknown flag: --os"),
        (
            "FROM --platfrom=x a\n",
            "unknown flag: --platfrom (did you mean platform?)",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(err(text).2, message, "{text:?}");
    }
}

#[test]
fn meta_args_before_from() {
    let d =
        ok("ARG VERSION=3.19 OTHER\nARG BASE=\"alpine\"\nFROM ${BASE}:${VERSION}\nARG VERSION\n");
    assert_eq!(
        d.meta_args,
        vec![
            ArgDecl {
                name: "VERSION".into(),
                default: Some("3.19".into())
            },
            ArgDecl {
                name: "OTHER".into(),
                default: None
            },
            ArgDecl {
                name: "BASE".into(),
                default: Some("\"alpine\"".into())
            },
        ]
    );
    assert_eq!(d.stages[0].base, "${BASE}:${VERSION}");
    assert_eq!(
        d.stages[0].instructions[0].kind,
        Kind::Arg(vec![ArgDecl {
            name: "VERSION".into(),
            default: None
        }])
    );
}

#[test]
fn run_cmd_entrypoint_both_forms() {
    assert_eq!(
        one("RUN echo $HOME && ls"),
        Kind::Run {
            flags: vec![],
            command: shell("echo $HOME && ls"),
            heredocs: vec![]
        }
    );
    assert_eq!(
        one("RUN [\"echo\", \"a b\", \"\\\"q\\\"\"]"),
        Kind::Run {
            flags: vec![],
            command: Command::Exec(s(&["echo", "a b", "\"q\""])),
            heredocs: vec![]
        }
    );
    assert_eq!(
        one("CMD [\"nginx\", \"-g\", \"daemon off;\"]"),
        Kind::Cmd(Command::Exec(s(&["nginx", "-g", "daemon off;"])))
    );
    assert_eq!(one("cmd  echo hi  "), Kind::Cmd(shell("echo hi")));
    assert_eq!(
        one("ENTRYPOINT [\"/bin/app\"]"),
        Kind::Entrypoint(Command::Exec(s(&["/bin/app"])))
    );
    assert_eq!(
        one("EntryPoint exec app"),
        Kind::Entrypoint(shell("exec app"))
    );
    assert_eq!(one("CMD []"), Kind::Cmd(Command::Exec(vec![])));
}

#[test]
fn invalid_json_falls_back_to_shell_form() {
    // As Docker: not JSON (single quotes, bare words, trailing text) is a
    // shell command line.
    assert_eq!(
        one("CMD ['echo', 'hi']"),
        Kind::Cmd(shell("['echo', 'hi']"))
    );
    assert_eq!(one("ENTRYPOINT [echo]"), Kind::Entrypoint(shell("[echo]")));
    assert_eq!(
        one("RUN [\"a\"] && b"),
        Kind::Run {
            flags: vec![],
            command: shell("[\"a\"] && b"),
            heredocs: vec![]
        }
    );
    assert_eq!(
        err("FROM a\nCMD [\"a\", 1]\n").2,
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn run_flags() {
    assert_eq!(
        one("RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=tok --network=none --security=insecure make"),
        Kind::Run {
            flags: pairs(&[
                ("mount", "type=cache,target=/root/.cache"),
                ("mount", "type=secret,id=tok"),
                ("network", "none"),
                ("security", "insecure"),
            ]),
            command: shell("make"),
            heredocs: vec![],
        }
    );
    assert_eq!(
        one("RUN --network=host [\"a\"]"),
        Kind::Run {
            flags: pairs(&[("network", "host")]),
            command: Command::Exec(s(&["a"])),
            heredocs: vec![]
        }
    );
    assert_eq!(
        err("FROM a\nRUN --bogus=1 true\n"),
        (2, 5, "unknown flag: --bogus".into())
    );
    assert_eq!(
        err("FROM a\nRUN --network=a --network=b x\n").2,
        "duplicate flag specified: --network"
    );
    assert_eq!(
        err("FROM a\nRUN --network x\n").2,
        "missing a value on flag: --network"
    );
    // An empty RUN passes, as in BuildKit.
    assert_eq!(
        one("RUN"),
        Kind::Run {
            flags: vec![],
            command: shell(""),
            heredocs: vec![]
        }
    );
    assert_eq!(
        err("FROM a\nRUN --network= x\n").2,
        "missing a value on flag: --network"
    );
    let Kind::Run { flags, .. } = one("RUN --device=/dev/fuse --device=x y") else {
        panic!()
    };
    assert_eq!(flags, pairs(&[("device", "/dev/fuse"), ("device", "x")]));
    assert_eq!(err("FROM a\nCMD --x y\n").2, "unknown flag: --x");
}

#[test]
fn env_both_forms() {
    assert_eq!(
        one("ENV a=b c=\"d e\" f='g h' i=j\\ k l="),
        Kind::Env(pairs(&[
            ("a", "b"),
            ("c", "\"d e\""),
            ("f", "'g h'"),
            ("i", "j\\ k"),
            ("l", "")
        ]))
    );
    assert_eq!(one("ENV a b c"), Kind::Env(pairs(&[("a", "b c")])));
    assert_eq!(
        one("ENV PATH=$PATH:/x"),
        Kind::Env(pairs(&[("PATH", "$PATH:/x")]))
    );
    assert_eq!(
        one("ENV a  \"b  c\""),
        Kind::Env(pairs(&[("a", "\"b  c\"")]))
    );
    let cases = [
        ("ENV", "ENV requires at least one argument"),
        ("ENV a", "ENV must have two arguments"),
        (
            "ENV a=b c",
            "Syntax error - can't find = in \"c\". Must be of the form: name=value",
        ),
        ("ENV =b", "ENV names can not be blank"),
    ];
    for (line, message) in cases {
        assert_eq!(err(&format!("FROM a\n{line}\n")).2, message, "{line:?}");
    }
}

#[test]
fn label_expose_volume_arg() {
    assert_eq!(
        one("LABEL org.opencontainers.image.title=\"My app\" version=1.0 \"quoted key\"=v"),
        Kind::Label(pairs(&[
            ("org.opencontainers.image.title", "\"My app\""),
            ("version", "1.0"),
            ("\"quoted key\"", "v")
        ]))
    );
    assert_eq!(
        one("LABEL description my app"),
        Kind::Label(pairs(&[("description", "my app")]))
    );
    assert_eq!(
        one("EXPOSE 80 443/tcp ${PORT}/udp"),
        Kind::Expose(s(&["80", "443/tcp", "${PORT}/udp"]))
    );
    assert_eq!(one("VOLUME /a /b"), Kind::Volume(s(&["/a", "/b"])));
    assert_eq!(
        one("VOLUME [\"/data\", \" /my logs \"]"),
        Kind::Volume(s(&["/data", "/my logs"]))
    );
    assert_eq!(
        one("ARG a b=2 c=\"x y\""),
        Kind::Arg(vec![
            ArgDecl {
                name: "a".into(),
                default: None
            },
            ArgDecl {
                name: "b".into(),
                default: Some("2".into())
            },
            ArgDecl {
                name: "c".into(),
                default: Some("\"x y\"".into())
            },
        ])
    );
    assert_eq!(
        err("FROM a\nLABEL\n").2,
        "LABEL requires at least one argument"
    );
    assert_eq!(
        err("FROM a\nEXPOSE\n").2,
        "EXPOSE requires at least one argument"
    );
    assert_eq!(
        err("FROM a\nVOLUME\n").2,
        "VOLUME requires at least one argument"
    );
    assert_eq!(
        err("FROM a\nVOLUME [\"\"]\n").2,
        "VOLUME specified can not be an empty string"
    );
    assert_eq!(err("FROM a\nARG\n").2, "ARG requires at least one argument");
}

#[test]
fn single_argument_instructions() {
    assert_eq!(one("USER app:staff"), Kind::User("app:staff".into()));
    assert_eq!(one("WORKDIR /my dir"), Kind::Workdir("/my dir".into()));
    assert_eq!(
        one("STOPSIGNAL SIGTERM"),
        Kind::Stopsignal("SIGTERM".into())
    );
    assert_eq!(
        one("MAINTAINER Jane Doe <j@example.com>"),
        Kind::Maintainer("Jane Doe <j@example.com>".into())
    );
    // Flags are checked first, as BuildKit does.
    assert_eq!(
        err("FROM a\nMAINTAINER --boo joe@example.com\n").2,
        "unknown flag: --boo"
    );
    for k in ["USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"] {
        assert_eq!(
            err(&format!("FROM a\n{k}\n")).2,
            format!("{k} requires exactly one argument")
        );
    }
}

#[test]
fn copy_and_add() {
    let Kind::Copy(c) = one("COPY --from=build --chown=app:app --chmod=755 --link --parents --exclude=*.md --exclude=x a b/ /dst/") else {
        panic!("not COPY")
    };
    assert!(!c.add);
    assert_eq!(
        c.flags,
        pairs(&[
            ("from", "build"),
            ("chown", "app:app"),
            ("chmod", "755"),
            ("link", "true"),
            ("parents", "true"),
            ("exclude", "*.md"),
            ("exclude", "x"),
        ])
    );
    assert_eq!(c.sources, s(&["a", "b/"]));
    assert_eq!(c.dest, "/dst/");
    assert!(c.heredocs.is_empty());

    let Kind::Copy(c) =
        one("ADD --checksum=sha256:abc --keep-git-dir=true --link=false https://x/y.tgz /")
    else {
        panic!("not ADD")
    };
    assert!(c.add);
    assert_eq!(
        c.flags,
        pairs(&[
            ("checksum", "sha256:abc"),
            ("keep-git-dir", "true"),
            ("link", "false")
        ])
    );
    assert_eq!(c.sources, s(&["https://x/y.tgz"]));
    assert_eq!(c.dest, "/");

    let Kind::Copy(c) = one("COPY [\"my file\", \"other\", \"/dest dir/\"]") else {
        panic!()
    };
    assert_eq!(c.sources, s(&["my file", "other"]));
    assert_eq!(c.dest, "/dest dir/");

    let Kind::Copy(c) = one("COPY --chown=1 [\"a\", \"/b\"]") else {
        panic!()
    };
    assert_eq!(c.flags, pairs(&[("chown", "1")]));
    assert_eq!(c.sources, s(&["a"]));

    let cases = [
        (
            "COPY",
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "COPY a",
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "ADD",
            "ADD requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        ("COPY --bogus a b", "unknown flag: --bogus"),
        ("ADD --from=x a b", "unknown flag: --from"),
        ("COPY --checksum=x a b", "unknown flag: --checksum"),
        ("COPY --link=maybe a b", "expecting boolean value for flag --link, not: maybe"),
        ("COPY --from a b", "missing a value on flag: --from"),
    ];
    for (line, message) in cases {
        assert_eq!(err(&format!("FROM a\n{line}\n")).2, message, "{line:?}");
    }
    // The column points at the bad flag.
    assert_eq!(
        err("FROM a\n  COPY --link --nope=1 a b\n"),
        (2, 15, "unknown flag: --nope".into())
    );
}

#[test]
fn healthcheck_forms() {
    assert_eq!(one("HEALTHCHECK NONE"), Kind::Healthcheck(None));
    assert_eq!(
        one("HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s --retries=3 CMD curl -f http://localhost/ || exit 1"),
        Kind::Healthcheck(Some(Healthcheck {
            flags: pairs(&[
                ("interval", "30s"),
                ("timeout", "3s"),
                ("start-period", "5s"),
                ("start-interval", "1s"),
                ("retries", "3"),
            ]),
            command: shell("curl -f http://localhost/ || exit 1"),
        }))
    );
    assert_eq!(
        one("healthcheck cmd [\"/bin/check\"]"),
        Kind::Healthcheck(Some(Healthcheck {
            flags: vec![],
            command: Command::Exec(s(&["/bin/check"]))
        }))
    );
    let cases = [
        ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        (
            "HEALTHCHECK RUN x",
            "Unknown type \"RUN\" in HEALTHCHECK (try CMD)",
        ),
        (
            "HEALTHCHECK --retries=-1 CMD x",
            "--retries cannot be negative (-1)",
        ),
        ("HEALTHCHECK --foo=1 CMD x", "unknown flag: --foo"),
        (
            "HEALTHCHECK --retries=x CMD x",
            "strconv.ParseInt: parsing \"x\": invalid syntax",
        ),
        (
            "HEALTHCHECK --interval=5 CMD x",
            "time: invalid duration \"5\"",
        ),
        (
            "HEALTHCHECK --timeout=1ns CMD x",
            "Interval \"timeout\" cannot be less than 1ms",
        ),
    ];
    for (line, message) in cases {
        assert_eq!(err(&format!("FROM a\n{line}\n")).2, message, "{line:?}");
    }
}

#[test]
fn shell_must_be_json() {
    assert_eq!(
        one("SHELL [\"powershell\", \"-command\"]"),
        Kind::Shell(s(&["powershell", "-command"]))
    );
    assert_eq!(
        err("FROM a\nSHELL /bin/sh -c\n").2,
        "SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(
        err("FROM a\nSHELL []\n").2,
        "SHELL requires at least one argument"
    );
}

#[test]
fn onbuild_wraps_an_instruction() {
    let i = instrs("FROM a\n\nONBUILD RUN --network=none make \\\n  install\n");
    let Kind::Onbuild(inner) = &i[0].kind else {
        panic!("{i:?}")
    };
    assert_eq!(
        i[0].source.text,
        "ONBUILD RUN --network=none make   install"
    );
    assert_eq!(inner.source.line, 3);
    assert_eq!(inner.source.text, "RUN --network=none make   install");
    assert_eq!(
        inner.kind,
        Kind::Run {
            flags: pairs(&[("network", "none")]),
            command: shell("make   install"),
            heredocs: vec![]
        }
    );
    let Kind::Onbuild(inner) = one("onbuild copy . /app") else {
        panic!()
    };
    assert!(matches!(inner.kind, Kind::Copy(ref c) if c.dest == "/app"));
    let cases = [
        ("ONBUILD", "ONBUILD requires at least one argument"),
        (
            "ONBUILD ONBUILD RUN x",
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        (
            "ONBUILD maintainer x",
            "MAINTAINER isn't allowed as an ONBUILD trigger",
        ),
        (
            "ONBUILD FORM x",
            "unknown instruction: FORM (did you mean FROM?)",
        ),
    ];
    for (line, message) in cases {
        assert_eq!(err(&format!("FROM a\n{line}\n")).2, message, "{line:?}");
    }
    assert_eq!(
        err("FROM a\nONBUILD RUN --x=1 y\n"),
        (2, 13, "unknown flag: --x".into())
    );
}

#[test]
fn directives() {
    let d = ok("# syntax=docker/dockerfile:1.7\n#ESCAPE = `\n# check=skip=all\nFROM mcr.microsoft.com/windows/servercore\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n  && echo done\n");
    assert_eq!(d.directives.escape, '`');
    assert_eq!(
        d.directives.syntax.as_deref(),
        Some("docker/dockerfile:1.7")
    );
    let i = &d.stages[0].instructions;
    // `\` is no longer the escape: `c:\` does not continue the line.
    assert_eq!(i.len(), 2);
    let Kind::Copy(c) = &i[0].kind else { panic!() };
    assert_eq!(c.dest, "c:\\");
    assert_eq!(i[1].source.text, "RUN dir c:\\   && echo done");
    assert_eq!(i[1].source.line, 6);

    // With the default escape, the same `c:\` line swallows the next.
    let i = instrs("FROM a\nCOPY testfile.txt c:\\\nRUN dir c:\\\n");
    assert_eq!(i.len(), 1);
    assert_eq!(i[0].source.text, "COPY testfile.txt c:RUN dir c:");

    // Directives stop at the first blank, comment or instruction line.
    let d = ok("# comment\n# escape=`\nFROM a\n");
    assert_eq!(d.directives.escape, '\\');
    let d = ok("\n# escape=`\nFROM a\n");
    assert_eq!(d.directives.escape, '\\');
    let d = ok("FROM a\n# syntax=x\n");
    assert_eq!(d.directives.syntax, None);
    // An unknown directive is a comment and ends the directives.
    let d = ok("# foo=bar\n# escape=`\nFROM a\n");
    assert_eq!(d.directives.escape, '\\');
    let d = ok("# escape=\\\nFROM a\n");
    assert_eq!(d.directives.escape, '\\');

    let d = ok("# check=skip=JSONArgsRecommended,StageNameCasing;error=true\nFROM a\n");
    assert_eq!(d.stages.len(), 1);
    assert_eq!(
        err("# check=error=maybe\nFROM a\n"),
        (
            1,
            1,
            "failed to parse check option \"error=maybe\": strconv.ParseBool: parsing \"maybe\": invalid syntax"
                .into()
        )
    );
    assert_eq!(
        err("# check=skip\nFROM a\n").2,
        "invalid check option \"skip\""
    );
    assert_eq!(
        err("# check=fix=all\nFROM a\n").2,
        "invalid check option \"fix\""
    );
    assert_eq!(
        err("# escape=x\nFROM a\n"),
        (
            1,
            1,
            "invalid escape token 'x' does not match ` or \\".into()
        )
    );
    assert_eq!(
        err("# escape=`\n# Escape=\\\nFROM a\n"),
        (2, 1, "only one escape parser directive can be used".into())
    );
}

#[test]
fn continuations_comments_and_blank_lines() {
    let text = "# leading comment\n\
                FROM alpine\n\
                \n\
                RUN apk add \\\n\
                \x20 # a comment inside\n\
                \n\
                \x20   curl \\  \n\
                # another\n\
                \x20   git\n\
                   run echo done # not a comment\n\
                \t# indented comment\n\
                CMD [\"sh\"] \\\n";
    let i = instrs(text);
    assert_eq!(i.len(), 3, "{i:?}");
    assert_eq!(i[0].source.line, 4);
    assert_eq!(i[0].source.text, "RUN apk add     curl     git");
    assert_eq!(
        i[0].kind,
        Kind::Run {
            flags: vec![],
            command: shell("apk add     curl     git"),
            heredocs: vec![]
        }
    );
    assert_eq!(i[1].source.line, 10);
    assert_eq!(i[1].source.text, "run echo done # not a comment");
    // A trailing continuation at the end of the file just ends it.
    assert_eq!(i[2].source.line, 12);
    assert_eq!(i[2].kind, Kind::Cmd(Command::Exec(s(&["sh"]))));

    // A lone escape continues into what follows (the instruction starts
    // on its line, as in moby), or into nothing: no instruction.
    let i = instrs("FROM a\n\\\n\nUSER u\n\\\n");
    assert_eq!(i.len(), 1);
    assert_eq!(i[0].kind, Kind::User("u".into()));
    assert_eq!(i[0].source.line, 2);

    // CRLF line ends and a byte-order mark.
    let i = instrs("\u{feff}FROM a\r\nRUN a \\\r\n b\r\n");
    assert_eq!(i[0].source.text, "RUN a  b");
}

#[test]
fn heredocs() {
    let i =
        instrs("FROM a\nRUN <<EOF\napt-get update\napt-get install -y vim\nEOF\nRUN echo after\n");
    assert_eq!(i.len(), 2);
    assert_eq!(i[0].source.text, "RUN <<EOF");
    assert_eq!(
        i[0].kind,
        Kind::Run {
            flags: vec![],
            command: shell("<<EOF"),
            heredocs: vec![Heredoc {
                name: "EOF".into(),
                content: "apt-get update\napt-get install -y vim\n".into(),
                expand: true,
            }],
        }
    );
    assert_eq!(i[1].source.line, 6);

    // Several on one line, one per terminator, quoted and chomped.
    let i = instrs("FROM a\nRUN <<-ONE python3 - <<'TWO' 3<<\"THREE\"\n\tindented\n\t\tmore\n\tONE\n$x\nTWO\nTHREE\nUSER u\n");
    let Kind::Run {
        heredocs, command, ..
    } = &i[0].kind
    else {
        panic!()
    };
    assert_eq!(command, &shell("<<-ONE python3 - <<'TWO' 3<<\"THREE\""));
    assert_eq!(
        heredocs,
        &vec![
            Heredoc {
                name: "ONE".into(),
                content: "indented\nmore\n".into(),
                expand: true
            },
            Heredoc {
                name: "TWO".into(),
                content: "$x\n".into(),
                expand: false
            },
            Heredoc {
                name: "THREE".into(),
                content: String::new(),
                expand: false
            },
        ]
    );
    assert_eq!(i[1].kind, Kind::User("u".into()));
    assert_eq!(i[1].source.line, 9);

    // COPY with heredocs as sources, next to a plain source.
    let i =
        instrs("FROM a\nCOPY --chmod=644 <<a.conf plain <<b.conf /etc/\nA\na.conf\nB\nb.conf\n");
    let Kind::Copy(c) = &i[0].kind else { panic!() };
    assert_eq!(c.sources, s(&["plain"]));
    assert_eq!(c.dest, "/etc/");
    assert_eq!(c.flags, pairs(&[("chmod", "644")]));
    assert_eq!(
        c.heredocs,
        vec![
            Heredoc {
                name: "a.conf".into(),
                content: "A\n".into(),
                expand: true
            },
            Heredoc {
                name: "b.conf".into(),
                content: "B\n".into(),
                expand: true
            },
        ]
    );

    // The terminator must stand alone; `<<-` allows tabs only.
    let i = instrs("FROM a\nRUN <<EOF\n EOF\nEOF \nEOF\n");
    let Kind::Run { heredocs, .. } = &i[0].kind else {
        panic!()
    };
    assert_eq!(heredocs[0].content, " EOF\nEOF \n");

    // Heredocs under ONBUILD, and none in exec form or in quotes.
    let Kind::Onbuild(inner) = &instrs("FROM a\nONBUILD RUN <<X\nhi\nX\n")[0].kind else {
        panic!()
    };
    let Kind::Run { heredocs, .. } = &inner.kind else {
        panic!()
    };
    assert_eq!(heredocs[0].content, "hi\n");
    let i = instrs("FROM a\nRUN [\"cat\", \"<<EOF\"]\nRUN echo \"<<EOF\"\n");
    assert_eq!(i.len(), 2);
    // CMD does not take heredocs: the body lines are instructions.
    assert_eq!(
        err("FROM a\nCMD <<EOF\nhello\nEOF\n").2,
        "unknown instruction: hello (did you mean shell?)"
    );

    assert_eq!(
        err("FROM a\nRUN <<EOF\nno end\n"),
        (2, 1, "unterminated heredoc".into())
    );
    assert_eq!(
        err("FROM a\nRUN <<A <<B\nA\nB-missing\n"),
        (2, 1, "unterminated heredoc".into())
    );
    assert_eq!(
        err("FROM a\nCOPY x <<EOF\nEOF\n").2,
        "COPY cannot accept a heredoc as a destination"
    );
    assert_eq!(
        err("FROM a\nCOPY <<EOF\nhi\nEOF\n").2,
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
}

#[test]
fn unknown_instructions_and_suggestions() {
    assert_eq!(
        err("FORM alpine\n"),
        (
            1,
            1,
            "unknown instruction: FORM (did you mean FROM?)".into()
        )
    );
    assert_eq!(
        err("FROM a\n  cpoy a b\n"),
        (
            2,
            3,
            "unknown instruction: cpoy (did you mean copy?)".into()
        )
    );
    assert_eq!(
        err("FROM a\nENTRYPONT x\n").2,
        "unknown instruction: ENTRYPONT (did you mean ENTRYPOINT?)"
    );
    assert_eq!(err("FROM a\nBANANA x\n").2, "unknown instruction: BANANA");
    assert_eq!(
        parse("FROM a\nFORM b\n", "sub/Dockerfile.dev")
            .unwrap_err()
            .to_string(),
        "sub/Dockerfile.dev:2:1: unknown instruction: FORM (did you mean FROM?)"
    );
}

#[test]
fn stage_structure_errors() {
    assert_eq!(err(""), (1, 1, "file with no instructions".into()));
    assert_eq!(
        err("# only\n\n   \n# comments\n").2,
        "file with no instructions"
    );
    assert_eq!(
        err("\nRUN x\nFROM a\n"),
        (2, 1, "no build stage in current context".into())
    );
    assert_eq!(
        err("ARG A\nENV a=b\nFROM x\n"),
        (2, 1, "no build stage in current context".into())
    );
    assert_eq!(err("ARG A=1\n").2, "dockerfile contains no stages to build");
}

#[test]
fn stages_collect_their_instructions() {
    let d = ok("FROM golang AS build\nWORKDIR /src\nCOPY . .\nRUN go build -o /app\n\nFROM scratch\nCOPY --from=build /app /app\nENTRYPOINT [\"/app\"]\n");
    assert_eq!(d.stages.len(), 2);
    assert_eq!(d.stages[0].instructions.len(), 3);
    assert_eq!(d.stages[1].from.line, 6);
    let lines: Vec<usize> = d.stages[1]
        .instructions
        .iter()
        .map(|i| i.source.line)
        .collect();
    assert_eq!(lines, [7, 8]);
}

#[test]
fn hostile_input_is_bounded() {
    let big = format!("FROM a\n{}", "#".repeat(build::parse::MAX_DOCKERFILE_BYTES));
    let e = err(&big);
    assert_eq!((e.0, e.1), (1, 1));
    assert!(e.2.contains("over the limit"), "{}", e.2);

    let long_line = format!("FROM a\nRUN {}\n", "x".repeat(build::parse::MAX_LINE_BYTES));
    let e = err(&long_line);
    assert_eq!(e.0, 2);
    assert!(e.2.starts_with("line is"), "{}", e.2);

    let many = format!(
        "FROM a\n{}",
        "USER u\n".repeat(build::parse::MAX_INSTRUCTIONS)
    );
    let e = err(&many);
    assert_eq!(e.0, build::parse::MAX_INSTRUCTIONS + 1);
    assert_eq!(
        e.2,
        format!("more than {} instructions", build::parse::MAX_INSTRUCTIONS)
    );

    // Many heredocs on one line stay linear.
    let n = 50_000;
    let many_docs = format!("FROM a\nCOPY {}/d\n{}", "<<E ".repeat(n), "E\n".repeat(n));
    let i = instrs(&many_docs);
    let Kind::Copy(c) = &i[0].kind else { panic!() };
    assert_eq!(c.heredocs.len(), n);

    // Just under the bounds parses.
    let fine = format!(
        "FROM a\n{}",
        "USER u\n".repeat(build::parse::MAX_INSTRUCTIONS - 1)
    );
    assert_eq!(instrs(&fine).len(), build::parse::MAX_INSTRUCTIONS - 1);
}

#[test]
fn buildkit_details() {
    // An escaped escape at the end does not continue the line.
    let i = instrs("FROM a\nRUN echo c:\\\\\nUSER u\n");
    assert_eq!(i.len(), 2);
    assert_eq!(i[0].source.text, "RUN echo c:\\\\");
    let d = ok("# escape=`\nFROM a\nRUN dir c:\\ ``\nUSER u\n");
    assert_eq!(d.stages[0].instructions.len(), 2);

    // Heredoc bodies keep CRLF line ends, as BuildKit's do.
    let i = instrs("FROM a\r\nRUN << EOF\r\nline\r\nEOF\r\n");
    let Kind::Run { heredocs, .. } = &i[0].kind else {
        panic!()
    };
    assert_eq!(heredocs[0].name, "EOF");
    assert_eq!(heredocs[0].content, "line\r\n");

    // Stage names: BuildKit's [a-z0-9-_.] spans `9`..`_`; repeats pass.
    let d = ok("FROM a AS x:y\nFROM b AS x:y\n");
    assert_eq!(d.stages[1].name.as_deref(), Some("x:y"));
    assert_eq!(
        err("FROM a AS x/y\n").2,
        "invalid name for build stage: \"x/y\", name can't start with a number or contain symbols"
    );

    assert_eq!(
        err("FROM a\nSHELL\n").2,
        "SHELL requires at least one argument"
    );
    let Kind::Copy(c) = one("ADD --unpack=TRUE a.tgz /") else {
        panic!()
    };
    assert_eq!(c.flags, pairs(&[("unpack", "true")]));
    assert_eq!(
        err("FROM a\nFrom b\nExpose 80\nCopY a b\nRUn x\nWorkDir /\nfroM c\nRUNN x\n").2,
        "unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(
        err("FROM a\nRunn x\n").2,
        "unknown instruction: Runn (did you mean run?)"
    );
    // Durations as Go parses them; zero and fractional pass.
    let Kind::Healthcheck(Some(h)) =
        one("HEALTHCHECK --interval=1m30.5s --timeout=0 --start-period=1h --retries=0 CMD x")
    else {
        panic!()
    };
    assert_eq!(h.flags.len(), 4);
    assert_eq!(
        err("FROM a\nHEALTHCHECK --interval=-1s CMD x").2,
        "Interval \"interval\" cannot be less than 1ms"
    );
    assert_eq!(
        err("FROM a\nHEALTHCHECK --interval=1x CMD x").2,
        "time: invalid duration \"1x\""
    );
    // HEALTHCHECK NONE ignores flags, as BuildKit does.
    assert_eq!(
        one("HEALTHCHECK --interval=nonsense NONE"),
        Kind::Healthcheck(None)
    );
}

#[test]
fn heredoc_names_quoted_and_spaced() {
    // (line, name, expand): quotes anywhere turn expansion off, escaped
    // quotes do not; blanks after `<<` are allowed; unset `$X` stays.
    let cases = [
        ("RUN <<ab'c'", "abc", false),
        ("RUN <<ab\\'c", "ab'c", true),
        ("RUN <<'a'b\\'c", "ab'c", false),
        ("RUN <<'two words'", "two words", false),
        ("RUN <<$NAME", "$NAME", true),
        ("RUN <<   NAME   > out", "NAME", true),
    ];
    for (line, name, expand) in cases {
        let text = format!("FROM a\n{line}\nbody\n{name}\n");
        let Kind::Run { heredocs, .. } = &instrs(&text)[0].kind else {
            panic!("{line:?}")
        };
        assert_eq!(heredocs.len(), 1, "{line:?}");
        assert_eq!(heredocs[0].name, name, "{line:?}");
        assert_eq!(heredocs[0].expand, expand, "{line:?}");
        assert_eq!(heredocs[0].content, "body\n", "{line:?}");
    }
}

#[test]
fn onbuild_trigger_text_parses_again() {
    // The engine stores the trigger's text and parses it again in the
    // build FROM the image: heredoc bodies must travel with it.
    let d = ok("FROM scratch\nONBUILD RUN <<-EOF cat - <<'B'\n\techo a\n\tEOF\n$b\nB\nONBUILD COPY <<X /x\nx\nX\n");
    for ins in &d.stages[0].instructions {
        let Kind::Onbuild(inner) = &ins.kind else {
            panic!("{ins:?}")
        };
        let again = ok(&format!("FROM scratch\n{}\n", inner.source.text));
        assert_eq!(again.stages[0].instructions[0].kind, inner.kind);
    }
    let Kind::Onbuild(inner) = &d.stages[0].instructions[0].kind else {
        unreachable!()
    };
    assert_eq!(
        inner.source.text,
        "RUN <<-EOF cat - <<'B'\necho a\nEOF\n$b\nB"
    );
}
