//! AFL++ target `config`: see `berth_fuzz::config` and docs/FUZZING.md.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        berth_fuzz::config(data);
    });
}
