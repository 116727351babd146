//! AFL++ target `expand`: see `berth_fuzz::expand` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::expand(data);
    });
}
