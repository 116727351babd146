//! AFL++ target `manifest`: see `berth_fuzz::manifest` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::manifest(data);
    });
}
