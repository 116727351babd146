//! AFL++ target `untar`: see `berth_fuzz::untar` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::untar(data);
    });
}
