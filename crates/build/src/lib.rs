//! The front end of `berth build`: a Dockerfile parsed into stages and
//! instructions ([`parse`](mod@parse)), Docker's variable expansion
//! ([`expand`](mod@expand)) and `.dockerignore` patterns
//! ([`ignore::Patterns`]). Pure functions of their input: the builder in
//! the engine does the running. Each follows BuildKit's Dockerfile
//! frontend and moby's patternmatcher, messages included, and bounds what
//! hostile input can cost ([`parse::MAX_DOCKERFILE_BYTES`] and its
//! siblings, [`expand::MAX_NESTING`]).

pub mod ast;
pub mod duration;
pub mod expand;
pub mod ignore;
pub mod parse;

pub use ast::*;
pub use expand::{expand, expand_words};
pub use parse::parse;

/// A Dockerfile that cannot be parsed or expanded: where, and what was
/// expected. `Display` gives Docker's shape,
/// `Dockerfile:3:7: unknown instruction: FORM (did you mean FROM?)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct Error {
    /// The Dockerfile's name as the user gave it.
    pub file: String,
    /// 1-based line of the instruction (its first line).
    pub line: usize,
    /// 1-based column where the problem starts.
    pub column: usize,
    /// What is wrong, and what was expected.
    pub message: String,
}
