//! AFL++ target `dockerignore`: see `berth_fuzz::dockerignore` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::dockerignore(data);
    });
}
