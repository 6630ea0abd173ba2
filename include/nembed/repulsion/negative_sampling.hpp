#pragma once
/// @file negative_sampling.hpp
/// The negative-sampling repulsion estimator's random draws. Every draw comes from a counter-based generator whose
/// stream is a function of (family, epoch, item) only — item = an edge for UMAP, a head slot of a batch for cne —
/// so the negatives of an edge in an epoch are the same whichever thread processes it and however many threads run.
///
///  - uniform: over all n points (umap-learn; a draw equal to the head is skipped by the caller, as umap-learn does);
///  - in-batch: over the 2b slots of a batch (b heads, then their b partners) other than the head's own slot,
///    uniform with replacement (cne; the partner can be drawn).
#include <cstddef>
#include <algorithm>
#include <cstdint>

#include "nembed/core/random.hpp"

namespace nembed {

/// Stream families, so that different uses of one seed never share a stream.
enum class SamplingFamily : std::uint64_t {
    umap_fit = 1, umap_transform = 2, cne_negatives = 3, cne_shuffle = 4, umap_init = 5
};

/// A 64-bit stream id from (family, epoch, item): splitmix64 finalisers of a packed key (collisions ~2^-64).
inline std::uint64_t sampling_stream(SamplingFamily family, std::uint64_t epoch, std::uint64_t item) {
    auto mix = [](std::uint64_t z) {
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    };
    return mix(mix(mix(static_cast<std::uint64_t>(family)) ^ epoch) ^ item);
}

/// The generator for one (epoch, item).
inline Rng sampling_rng(std::uint64_t seed, SamplingFamily family, std::uint64_t epoch, std::uint64_t item) {
    return Rng(seed, sampling_stream(family, epoch, item));
}

/// One uniform draw over [0, n).
inline std::size_t draw_uniform(Rng& rng, std::size_t n) { return static_cast<std::size_t>(rng.below(n)); }

/// In-batch negatives for many heads from one stream: for the head in slot h of a batch of `two_b` slots, a slot
/// uniform over the other two_b − 1 ((h + 1 + r) mod two_b, by one conditional subtraction). When two_b − 1 <= 2^16
/// each 32-bit word of the stream gives two draws (Lemire's multiply-and-reject on 16-bit halves: exactly uniform),
/// otherwise one.
class InBatchSampler {
public:
    InBatchSampler(Rng& rng, std::size_t two_b)
        : rng_(rng), two_b_(two_b), n_(static_cast<std::uint32_t>(std::min<std::size_t>(two_b - 1, 0xffffffffu))),
          small_(two_b - 1 <= 65536), threshold_(small_ ? static_cast<std::uint32_t>(65536u % n_) : 0u) {}
    /// A slot other than h, uniform over the two_b − 1 others.
    std::size_t draw(std::size_t h) {
        const std::size_t v = h + 1 + (small_ ? below16() : static_cast<std::size_t>(rng_.below(two_b_ - 1)));
        return v >= two_b_ ? v - two_b_ : v;
    }

private:
    std::size_t below16() {
        for (;;) {
            std::uint32_t r;
            if (half_) {
                r = word_ >> 16;
                half_ = false;
            } else {
                word_ = rng_.next_u32();
                r = word_ & 0xffffu;
                half_ = true;
            }
            const std::uint32_t m = r * n_;  // < 2^32 since r < 2^16 and n <= 2^16
            if ((m & 0xffffu) >= threshold_) return m >> 16;
        }
    }
    Rng& rng_;
    std::size_t two_b_;
    std::uint32_t n_;
    bool small_;
    std::uint32_t threshold_;  // 2^16 mod n: low halves below it are rejected
    std::uint32_t word_ = 0;
    bool half_ = false;
};

} // namespace nembed
