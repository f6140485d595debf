// A GRU layer's recurrence for CPU training, numerically equivalent to torch.nn.GRU.
//
// Python (selector/fast_gru.py) does the input projection of all steps as one GEMM and the
// weight gradients as single GEMMs after the loop; this file runs the two loops through time
// that cannot be batched: per step one small GEMM (h @ W_hh^T, or dG @ W_hh going back) and the
// gate arithmetic. The gate arithmetic is written as plain loops over contiguous floats with a
// branch-free exp, so that the compiler vectorises it (SIMD exp/sigmoid/tanh): scalar libm calls
// per element were measured slower than nn.GRU itself.
//
// Layout: time-major. gates (T, B, 3H) arrives holding the input projections x W_ih^T + b_ih in
// PyTorch's gate order (r, z, n); the forward pass overwrites it with the activated r, z, n,
// which the backward pass reads.

#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

// The BLAS sgemm that PyTorch's own library exports (MKL's, on x86 builds). Weak, so that the
// extension still loads where it is missing, and says so (has_blas) instead of crashing.
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n,
                       const int* k, const float* alpha, const float* a, const int* lda,
                       const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc) __attribute__((weak));

namespace {

// exp(x) for float, good to ~2 ulp on [-87, 88] (Cephes' expf polynomial), with no branches
// and no calls so that loops over it vectorise.
inline float exp_approx(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  // Round x / ln 2 to the nearest integer by adding and subtracting 1.5 * 2^23.
  const float shifter = 12582912.0f;
  float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

// tanh(x) = 1 - 2 / (exp(2x) + 1): exact limits at +-inf, absolute error ~1e-7 near 0.
inline float tanh_approx(float x) { return 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f); }

// C (m x n) = A (m x k) @ op(W) + beta * C, all row-major, for one fixed W (rows_w x cols_w):
// the per-step GEMM of the recurrence, straight to the BLAS that PyTorch links, which skips
// ATen's per-call overhead. (MKL's packed GEMM, which packs W once, was measured slower here.)
class StepGemm {
 public:
  StepGemm(const float* w, int64_t rows_w, int64_t cols_w, bool transpose_w, int64_t m)
      : w_(w), cols_w_(cols_w), transpose_w_(transpose_w), m_(m),
        n_(transpose_w ? rows_w : cols_w), k_(transpose_w ? cols_w : rows_w) {}

  void run(const float* a, int64_t lda, float beta, float* c, int64_t ldc) const {
    // Column-major BLAS: C^T = op(W)^T @ A^T, and row-major W is W^T column-major.
    const char ta = transpose_w_ ? 'T' : 'N', tb = 'N';
    const int m = n_, n = m_, k = k_, lw = cols_w_, la = lda, lc = ldc;
    const float one = 1.0f;
    sgemm_(&ta, &tb, &m, &n, &k, &one, w_, &lw, a, &la, &beta, c, &lc);
  }

 private:
  const float* w_;
  int64_t cols_w_;
  bool transpose_w_;
  int64_t m_, n_, k_;
};

void check_input(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == torch::kFloat32,
              name, " must be a float32 CPU tensor");
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

}  // namespace

// Batch rows are independent through time, so the batch is split into blocks of at least this
// many rows, one per thread, each running its own loop over all steps: that parallelises the
// small per-step GEMMs too (BLAS runs single-threaded inside the block's thread).
constexpr int64_t kRowsPerThread = 16;

// Runs the recurrence. Returns (outputs (T, B, H), ghn (T, B, H)): the hidden state of every
// step, and the recurrent projection of the n gate (W_hn h + b_hn) that the backward pass needs.
std::vector<torch::Tensor> gru_forward(torch::Tensor gates, torch::Tensor h0, torch::Tensor w_hh,
                                       torch::Tensor b_hh) {
  check_input(gates, "gates");
  check_input(h0, "h0");
  check_input(w_hh, "w_hh");
  check_input(b_hh, "b_hh");
  const int64_t T = gates.size(0), B = gates.size(1), H = h0.size(1);
  TORCH_CHECK(gates.size(2) == 3 * H && h0.size(0) == B && w_hh.size(0) == 3 * H &&
              w_hh.size(1) == H, "gates must be (T, B, 3H), h0 (B, H), w_hh (3H, H)");
  auto outputs = torch::empty({T, B, H}, gates.options());
  auto ghn = torch::empty({T, B, H}, gates.options());
  float* const g_all = gates.data_ptr<float>();
  float* const out_all = outputs.data_ptr<float>();
  float* const ghn_all = ghn.data_ptr<float>();
  const float* const h0_p = h0.data_ptr<float>();
  const float* const w = w_hh.data_ptr<float>();
  const float* const bias = b_hh.data_ptr<float>();
  at::parallel_for(0, B, kRowsPerThread, [&](int64_t lo, int64_t hi) {
    const int64_t rows = hi - lo;
    const StepGemm recurrent(w, 3 * H, H, /*transpose_w=*/true, rows);
    std::vector<float> gh(rows * 3 * H);
    for (int64_t t = 0; t < T; ++t) {
      const float* hp = (t == 0 ? h0_p : out_all + (t - 1) * B * H) + lo * H;
      recurrent.run(hp, H, 0.0f, gh.data(), 3 * H);
      float* g = g_all + (t * B + lo) * 3 * H;
      float* out = out_all + (t * B + lo) * H;
      float* keep_all = ghn_all + (t * B + lo) * H;
      for (int64_t b = 0; b < rows; ++b) {
        float* __restrict__ gr = g + b * 3 * H;
        float* __restrict__ gz = gr + H;
        float* __restrict__ gn = gz + H;
        const float* __restrict__ hr = gh.data() + b * 3 * H;
        const float* __restrict__ hz = hr + H;
        const float* __restrict__ hn = hz + H;
        const float* __restrict__ br = bias;
        const float* __restrict__ bz = bias + H;
        const float* __restrict__ bn = bias + 2 * H;
        const float* __restrict__ hprev = hp + b * H;
        float* __restrict__ o = out + b * H;
        float* __restrict__ keep = keep_all + b * H;
#pragma GCC ivdep
        for (int64_t j = 0; j < H; ++j) {
          const float r = sigmoid(gr[j] + hr[j] + br[j]);
          const float z = sigmoid(gz[j] + hz[j] + bz[j]);
          const float hn_j = hn[j] + bn[j];
          const float n = tanh_approx(gn[j] + r * hn_j);
          gr[j] = r;
          gz[j] = z;
          gn[j] = n;
          keep[j] = hn_j;
          o[j] = n + z * (hprev[j] - n);
        }
      }
    }
  });
  return {outputs, ghn};
}

// Back through time. grad_outputs (T, B, H) is the loss gradient of every step's output.
// Returns (d_gh (T, B, 3H), d_gin (T, B, H), d_h0): the gradients of the recurrent projections
// (r, z, n), of the input projection of the n gate (those of r and z equal the recurrent ones)
// and of the initial state.
std::vector<torch::Tensor> gru_backward(torch::Tensor grad_outputs, torch::Tensor gates,
                                        torch::Tensor ghn, torch::Tensor outputs,
                                        torch::Tensor h0, torch::Tensor w_hh) {
  for (const auto& [t, name] : {std::pair{&grad_outputs, "grad_outputs"}, {&gates, "gates"},
                                {&ghn, "ghn"}, {&outputs, "outputs"}, {&h0, "h0"},
                                {&w_hh, "w_hh"}}) {
    check_input(*t, name);
  }
  const int64_t T = gates.size(0), B = gates.size(1), H = h0.size(1);
  auto d_gh = torch::empty({T, B, 3 * H}, gates.options());
  auto d_gin = torch::empty({T, B, H}, gates.options());
  auto d_h0 = torch::empty({B, H}, gates.options());
  const float* const g_all = gates.data_ptr<float>();
  const float* const go_all = grad_outputs.data_ptr<float>();
  const float* const ghn_all = ghn.data_ptr<float>();
  const float* const out_all = outputs.data_ptr<float>();
  const float* const h0_p = h0.data_ptr<float>();
  const float* const w = w_hh.data_ptr<float>();
  float* const dgin_all = d_gin.data_ptr<float>();
  float* const dgh_all = d_gh.data_ptr<float>();
  at::parallel_for(0, B, kRowsPerThread, [&](int64_t lo, int64_t hi) {
    const int64_t rows = hi - lo;
    const StepGemm recurrent(w, 3 * H, H, /*transpose_w=*/false, rows);
    // The state's gradient: d_next flows in from step t + 1, d_prev out to step t - 1.
    std::vector<float> d_next(rows * H, 0.0f), d_prev(rows * H);
    for (int64_t t = T - 1; t >= 0; --t) {
      const float* hp = (t == 0 ? h0_p : out_all + (t - 1) * B * H) + lo * H;
      const float* g = g_all + (t * B + lo) * 3 * H;
      const float* go = go_all + (t * B + lo) * H;
      const float* keep = ghn_all + (t * B + lo) * H;
      float* dgh = dgh_all + (t * B + lo) * 3 * H;
      float* dgin = dgin_all + (t * B + lo) * H;
      for (int64_t b = 0; b < rows; ++b) {
        const float* __restrict__ gr = g + b * 3 * H;
        const float* __restrict__ gz = gr + H;
        const float* __restrict__ gn = gz + H;
        const float* __restrict__ hprev = hp + b * H;
        const float* __restrict__ gout = go + b * H;
        const float* __restrict__ hn = keep + b * H;
        const float* __restrict__ dnext = d_next.data() + b * H;
        float* __restrict__ dr_out = dgh + b * 3 * H;
        float* __restrict__ dz_out = dr_out + H;
        float* __restrict__ dhn_out = dz_out + H;
        float* __restrict__ din_out = dgin + b * H;
        float* __restrict__ dprev = d_prev.data() + b * H;
#pragma GCC ivdep
        for (int64_t j = 0; j < H; ++j) {
          const float r = gr[j], z = gz[j], n = gn[j];
          const float dh = dnext[j] + gout[j];
          const float dn_pre = dh * (1.0f - z) * (1.0f - n * n);
          const float dz_pre = dh * (hprev[j] - n) * z * (1.0f - z);
          const float dr_pre = dn_pre * hn[j] * r * (1.0f - r);
          dr_out[j] = dr_pre;
          dz_out[j] = dz_pre;
          dhn_out[j] = dn_pre * r;
          din_out[j] = dn_pre;
          dprev[j] = dh * z;
        }
      }
      recurrent.run(dgh, 3 * H, 1.0f, d_prev.data(), H);
      std::swap(d_next, d_prev);
    }
    std::copy(d_next.begin(), d_next.end(), d_h0.data_ptr<float>() + lo * H);
  });
  return {d_gh, d_gin, d_h0};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("has_blas", [] { return sgemm_ != nullptr; }, "Whether PyTorch exports sgemm_");
  m.def("forward", &gru_forward, "GRU layer recurrence, forward (CPU, float32)");
  m.def("backward", &gru_backward, "GRU layer recurrence, backward (CPU, float32)");
}
