#pragma once
/// @file negative_sampling.hpp
/// The negative-sampling repulsion estimator's random draws. Every draw comes from a counter-based generator whose
/// stream is a function of (seed, family, epoch, item) only — item = an edge for UMAP, a fixed chunk of a batch's
/// heads for cne — so the negatives of an edge in an epoch are the same whichever thread processes it and however
/// many threads run.
///
///  - uniform: over all n points, SplitMixStream::below (umap-learn; a draw equal to the head is skipped by the
///    caller, as umap-learn does); UniformSampler: over the n − 1 points other than the head, optionally also
///    never one of the head's graph neighbours (TorchDR's discard_NNs);
///  - in-batch: over the 2b slots of a batch (b heads, then their b partners) other than the head's own slot,
///    uniform with replacement (cne; the partner can be drawn).
/// As a repulsion estimator (docs/core.md §3): the repulsion of a head is estimated from its m negatives; the
/// edge mini-batch plan (train/edge_batch_plan.hpp) takes either source.
#include <cstddef>
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <span>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {

/// Stream families, so that different uses of one seed never share a stream.
enum class SamplingFamily : std::uint64_t {
    umap_fit = 1, umap_transform = 2, cne_negatives = 3, cne_shuffle = 4, umap_init = 5,
    pacmap_mid_near = 6, pacmap_further = 7,
    torchdr_negatives = 8,  ///< TorchDR's per-iteration negatives (methods/neighbor_embedding.hpp)
    torchdr_encoder_batches = 9,  ///< the network's mini-batches of a TorchDR iteration (train/ne_plan.hpp)
    encoder_input_noise = 10,     ///< the encoder's input noise, per forward pass and row (network_parametrization.hpp)
    encoder_transform_consistency = 11  ///< the points between training points, per pass and sample (transform_consistency.hpp)
};

/// Where an edge plan's negatives come from.
enum class NegativeSampling {
    in_batch,  ///< the other slots of the batch (cne)
    uniform    ///< all points but the head (TorchDR's NegativeSamplingAffinity, uniform)
};
/// Parses "in_batch"/"in-batch" or "uniform"; throws InvalidArgument naming the bad value.
inline NegativeSampling parse_negative_sampling(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "in_batch" || s == "in-batch") return NegativeSampling::in_batch;
    if (s == "uniform") return NegativeSampling::uniform;
    throw InvalidArgument("unknown negative sampling '" + name + "' (expected in_batch or uniform)");
}
inline std::string to_string(NegativeSampling s) { return s == NegativeSampling::in_batch ? "in_batch" : "uniform"; }

namespace sampling_detail {
inline std::uint64_t stream_mix(std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
} // namespace sampling_detail

/// The (family, epoch) part of sampling_stream, for a caller that keys many items' streams in one epoch (UMAP's
/// edges): sampling_stream_item(sampling_stream_base(f, e), item) == sampling_stream(f, e, item).
inline std::uint64_t sampling_stream_base(SamplingFamily family, std::uint64_t epoch) {
    return sampling_detail::stream_mix(sampling_detail::stream_mix(static_cast<std::uint64_t>(family)) ^ epoch);
}
inline std::uint64_t sampling_stream_item(std::uint64_t base, std::uint64_t item) {
    return sampling_detail::stream_mix(base ^ item);
}
/// A 64-bit stream id from (family, epoch, item): splitmix64 finalisers of a packed key (collisions ~2^-64).
inline std::uint64_t sampling_stream(SamplingFamily family, std::uint64_t epoch, std::uint64_t item) {
    return sampling_stream_item(sampling_stream_base(family, epoch), item);
}

/// The generator for one (epoch, item).
inline Rng sampling_rng(std::uint64_t seed, SamplingFamily family, std::uint64_t epoch, std::uint64_t item) {
    return Rng(seed, sampling_stream(family, epoch, item));
}

/// SplitMix64 (Steele, Lea & Flood 2014) in counter mode: its output function applied to key + i·γ, 64 bits per
/// call (it passes BigCrush). cne's sampling takes ~5 draws of 16 bits per head plus one per edge for the shuffle;
/// Philox4x32-10 (core/random.hpp) spends ten rounds of multiplies per 128 bits; here one multiply-xorshift hash
/// gives four draws.
class SplitMixStream {
public:
    SplitMixStream(std::uint64_t seed, std::uint64_t stream) : state_(mix(mix(seed) + stream)) {}
    /// The seed's part of the start state, for a caller that opens many streams of one seed (UMAP's edges):
    /// SplitMixStream(premix(seed), stream) is SplitMixStream(seed, stream).
    struct PremixedSeed {
        std::uint64_t value;
    };
    static PremixedSeed premix(std::uint64_t seed) { return PremixedSeed{mix(seed)}; }
    SplitMixStream(PremixedSeed seed, std::uint64_t stream) : state_(mix(seed.value + stream)) {}
    std::uint64_t next() { return mix(state_ += 0x9e3779b97f4a7c15ull); }
    /// Moves past the next `words` outputs of next() (a counter: O(1)), e.g. to start a stream's draws at a
    /// process's first element in a distributed run.
    void skip_words(std::uint64_t words) { state_ += words * 0x9e3779b97f4a7c15ull; }
    /// Uniform over [0, n), n >= 1: Lemire's multiply-and-reject on 32-bit halves of the outputs while n <= 2^32.
    std::uint64_t below(std::uint64_t n) {
        if (n <= 0x100000000ull) {
            for (;;) {
                if (!half_left_) {
                    half_ = next();
                    half_left_ = true;
                } else {
                    half_ >>= 32;
                    half_left_ = false;
                }
                const std::uint64_t m = (half_ & 0xffffffffull) * n;  // < 2^64
                const std::uint64_t low = m & 0xffffffffull;  // reject low < 2^32 mod n (only possible if low < n)
                if (low >= n || low >= 0x100000000ull % n) return m >> 32;
            }
        }
        const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        std::uint64_t r;
        do { r = next(); } while (r >= limit);
        return r % n;
    }
    /// The next `count` values of below(n), 1 <= n <= 2^32, into out, leaving the stream as those calls would. The
    /// words are hashed and their halves turned into draws in blocks, by the same multiply (this vectorises); a
    /// block holding a rejection (each half rejected with probability (2^32 mod n)/2^32 < n/2^32) takes its first
    /// draw from below() instead and is formed again after it. Always inlined, so that a caller compiled for a wider
    /// instruction set (target_clones) vectorises it.
    [[gnu::always_inline]] inline void below_many(std::uint64_t n, std::uint32_t* out, std::size_t count) {
        below_many(n, 0x100000000ull % n, out, count);
    }
    /// The same with below()'s rejection bound 2^32 mod n given (a caller drawing from many short streams computes
    /// it once, not once per call).
    [[gnu::always_inline]] inline void below_many(std::uint64_t n, std::uint64_t reject_below, std::uint32_t* out,
                                                  std::size_t count) {
        constexpr std::size_t block = 32;  // words per block
        std::size_t c = 0;
        while (c < count) {
            if (half_left_) {  // an upper half pending: below() uses it first
                out[c++] = static_cast<std::uint32_t>(below(n));
                continue;
            }
            const std::size_t nw = std::min(block, (count - c + 1) / 2);
            std::uint64_t words[block];
            std::uint32_t draws[2 * block];
            std::uint64_t rejected = 0;
            for (std::size_t j = 0; j < nw; ++j) {
                const std::uint64_t x = mix(state_ + (j + 1) * 0x9e3779b97f4a7c15ull);
                words[j] = x;
                const std::uint64_t lo = (x & 0xffffffffull) * n, hi = (x >> 32) * n;
                draws[2 * j] = static_cast<std::uint32_t>(lo >> 32);
                draws[2 * j + 1] = static_cast<std::uint32_t>(hi >> 32);
                rejected |= static_cast<std::uint64_t>((lo & 0xffffffffull) < reject_below) |
                            static_cast<std::uint64_t>((hi & 0xffffffffull) < reject_below);
            }
            if (rejected) {
                out[c++] = static_cast<std::uint32_t>(below(n));
                continue;
            }
            const std::size_t take = std::min(2 * nw, count - c);
            std::copy(draws, draws + take, out + c);
            c += take;
            state_ += nw * 0x9e3779b97f4a7c15ull;
            if (take % 2) {  // the last word's upper half is left for the next call
                half_ = words[nw - 1];
                half_left_ = true;
            }
        }
    }
    /// below_many's draws, leaving the stream as it does, written straight into out with every draw equal to
    /// `skip` dropped (UMAP skips a negative equal to the head); returns how many were written. out needs room for
    /// count + 1 values (the last word's upper half is written and dropped when count is odd). One pass, no copy:
    /// a short stream (UMAP draws ~5 per edge) spent more on below_many's block copy than on the hashes.
    [[gnu::always_inline]] inline std::size_t below_many_except(std::uint64_t n, std::uint64_t reject_below,
                                                                std::uint64_t skip, std::uint32_t* out,
                                                                std::size_t count) {
        constexpr std::size_t block = 32;  // words per block, as below_many
        std::size_t c = 0, k = 0;
        while (c < count) {
            if (half_left_) {
                const std::uint64_t v = below(n);
                out[k] = static_cast<std::uint32_t>(v);
                k += v != skip ? 1 : 0;
                ++c;
                continue;
            }
            const std::size_t nw = std::min(block, (count - c + 1) / 2);
            const std::size_t take = std::min(2 * nw, count - c);
            std::uint64_t rejected = 0, last = 0;
            std::size_t kk = k;
            for (std::size_t j = 0; j < nw; ++j) {
                const std::uint64_t x = mix(state_ + (j + 1) * 0x9e3779b97f4a7c15ull);
                last = x;
                const std::uint64_t lo = (x & 0xffffffffull) * n, hi = (x >> 32) * n;
                const std::uint64_t d0 = lo >> 32, d1 = hi >> 32;
                out[kk] = static_cast<std::uint32_t>(d0);
                kk += d0 != skip ? 1 : 0;
                out[kk] = static_cast<std::uint32_t>(d1);
                kk += (d1 != skip && 2 * j + 1 < take) ? 1 : 0;
                rejected |= static_cast<std::uint64_t>((lo & 0xffffffffull) < reject_below) |
                            static_cast<std::uint64_t>((hi & 0xffffffffull) < reject_below);
            }
            if (rejected) {  // as below_many: the block's first draw from below(), then the block again
                const std::uint64_t v = below(n);
                out[k] = static_cast<std::uint32_t>(v);
                k += v != skip ? 1 : 0;
                ++c;
                continue;
            }
            k = kk;
            c += take;
            state_ += nw * 0x9e3779b97f4a7c15ull;
            if (take % 2) {  // the last word's upper half is left for the next call
                half_ = last;
                half_left_ = true;
            }
        }
        return k;
    }
    static std::uint64_t mix(std::uint64_t z) {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }

private:
    std::uint64_t state_;
    std::uint64_t half_ = 0;  // the output whose upper half is still to be used (half_left_)
    bool half_left_ = false;
};

/// Uniform negatives for many heads from one stream: a point uniform over the n − 1 others than the head, and when
/// a sorted neighbour list is given, by rejection, over the points that are neither the head nor in the list (the
/// caller guarantees that one exists: fewer than n − 1 neighbours).
class UniformSampler {
public:
    UniformSampler(std::uint64_t seed, std::uint64_t stream, std::size_t n) : rng_(seed, stream), n_(n) {
        require_lazy(n >= 2, [] { return std::string("UniformSampler: needs at least 2 points"); });
    }
    /// A point other than `head` and not in `excluded` (sorted ascending; empty: no exclusion).
    std::size_t draw(std::size_t head, std::span<const std::uint32_t> excluded = {}) {
        for (;;) {
            std::size_t p = static_cast<std::size_t>(rng_.below(n_ - 1));
            if (p >= head) ++p;
            if (excluded.empty() || !std::binary_search(excluded.begin(), excluded.end(), static_cast<std::uint32_t>(p)))
                return p;
        }
    }

    /// The next `count` values of draw(head) with no exclusions, in order, the stream left as those calls would
    /// leave it (SplitMixStream::below_many); n <= 2^32.
    [[gnu::always_inline]] inline void draw_many(std::size_t head, std::uint32_t* out, std::size_t count) {
        require_lazy(n_ <= 0x100000000ull, [] { return std::string("UniformSampler::draw_many: n must be <= 2^32"); });
        rng_.below_many(n_ - 1, out, count);
        const auto h = static_cast<std::uint32_t>(head);
        for (std::size_t t = 0; t < count; ++t) out[t] += out[t] >= h ? 1u : 0u;
    }

private:
    SplitMixStream rng_;
    std::size_t n_;
};

/// In-batch negatives for many heads from one stream: for the head in slot h of a batch of `two_b` slots, a slot
/// uniform over the other two_b − 1 ((h + 1 + r) mod two_b, by one conditional subtraction). When two_b − 1 <= 2^16
/// each 64-bit word of the stream gives four draws (Lemire's multiply-and-reject on 16-bit quarters: exactly
/// uniform), otherwise two (on 32-bit halves).
class InBatchSampler {
public:
    /// Draws from the stream (seed, stream) — see sampling_stream for the stream ids.
    InBatchSampler(std::uint64_t seed, std::uint64_t stream, std::size_t two_b)
        : rng_(seed, stream), two_b_(two_b), n_(static_cast<std::uint64_t>(two_b - 1)),
          bits_(two_b - 1 <= 65536 ? 16 : 32), threshold_((std::uint64_t(1) << bits_) % n_) {
        require_lazy(two_b >= 2 && two_b - 1 <= 0xffffffffull,
                     [] { return std::string("InBatchSampler: a batch needs 2 to 2^32 slots"); });
    }
    /// A slot other than h, uniform over the two_b − 1 others.
    std::size_t draw(std::size_t h) { return bits_ == 16 ? draw_as<16>(h) : draw_as<32>(h); }
    /// The width of one draw's part of a word: 16 (four draws per 64-bit word) or 32 (two).
    unsigned bits() const { return bits_; }
    /// draw(h) for a caller that checked bits() == Bits once (a loop of draws): masks and shifts are then
    /// immediates (a shift by a variable takes cl and, in the callers' loops, registers that get spilled).
    template <unsigned Bits>
    [[gnu::always_inline]] inline std::size_t draw_as(std::size_t h) {
        constexpr std::uint64_t mask = (std::uint64_t(1) << Bits) - 1;
        for (;;) {
            if (left_ == 0) {
                word_ = rng_.next();
                ++words_;
                left_ = 64 / Bits;
            }
            const std::uint64_t m = (word_ & mask) * n_;  // < 2^(2·Bits): r < 2^Bits, n <= 2^Bits
            word_ >>= Bits;
            --left_;
            if ((m & mask) >= threshold_) {
                const std::size_t v = h + 1 + static_cast<std::size_t>(m >> Bits);
                return v >= two_b_ ? v - two_b_ : v;
            }
        }
    }
    /// Words taken from the stream so far (tests).
    std::uint64_t words() const { return words_; }

private:
    SplitMixStream rng_;
    std::size_t two_b_;
    std::uint64_t n_;
    unsigned bits_;            // 16: four draws per 64-bit word; 32: two
    std::uint64_t threshold_;  // 2^bits mod n: low parts below it are rejected
    std::uint64_t word_ = 0, words_ = 0;
    unsigned left_ = 0;
};

} // namespace nembed
