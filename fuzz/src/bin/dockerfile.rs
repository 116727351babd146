//! AFL++ target `dockerfile`: see `berth_fuzz::dockerfile` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::dockerfile(data);
    });
}
