//! Hostile Dockerfiles: absurd nesting and sizes end in an error (or a
//! bounded result), never in a crash.

#[test]
fn deeply_nested_expansions_are_bounded() {
    let depth = 200_000;
    let word = format!("{}x{}", "${a:-".repeat(depth), "}".repeat(depth));
    let r = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || build::expand(&word, '\\', &|_| None).map(|s| s.len()))
        .unwrap()
        .join()
        .expect("expansion must not overflow the stack");
    assert!(r.is_err() || r == Ok(1), "{r:?}");
}

#[test]
fn deeply_nested_dockerfile_lines_are_bounded() {
    let depth = 200_000;
    let text = format!(
        "FROM busybox\nENV A={}x{}\nRUN [{}]\n",
        "${a:-".repeat(depth),
        "}".repeat(depth),
        "[".repeat(depth)
    );
    let r = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || build::parse(&text, "Dockerfile").map(|d| d.stages.len()))
        .unwrap()
        .join()
        .expect("parsing must not overflow the stack");
    let _ = r;
}

#[test]
fn absurd_sizes_are_refused() {
    let big = format!("FROM busybox\nRUN echo {}\n", "a".repeat(5 << 20));
    let e = build::parse(&big, "Dockerfile").unwrap_err();
    assert!(e.message.contains("over the limit"), "{e}");
}
