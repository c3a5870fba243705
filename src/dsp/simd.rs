//! Which build of the DSP hot loops to run. The binary targets baseline x86-64 (SSE2), so
//! it runs anywhere; the loops that dominate the front-end are also compiled for AVX2 +
//! FMA (`#[target_feature]`) and chosen once, when a front-end is made.

/// Whether this CPU has AVX2 and FMA (always false off x86-64).
pub(crate) fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
