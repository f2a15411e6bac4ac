//! Lookup cost of a `(code, subCode)` pair: exact hits, subcode and code-only fallbacks, unknown pairs.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup");
    for (label, code, subcode) in [
        ("exact 487/10004", 487u16, 10004u32),
        ("exact 400/41006", 400, 41006),
        ("exact 0/0", 0, 0),
        ("subcode under other code 500/10004", 500, 10004),
        ("code-only 503/0", 503, 0),
        ("unknown 499/123456", 499, 123_456),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                appel_codes::lookup(black_box(code), black_box(subcode))
                    .entry
                    .name
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
