//! AFL++ target `load`: see `berth_fuzz::load` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::load(data);
    });
}
