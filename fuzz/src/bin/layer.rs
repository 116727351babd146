//! AFL++ target `layer`: see `berth_fuzz::layer` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::layer(data);
    });
}
