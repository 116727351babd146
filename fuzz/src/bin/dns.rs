//! AFL++ target `dns`: see `berth_fuzz::dns` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::dns(data);
    });
}
