// KV append (bmck.kv_append): rows [batch, heads, seq, head_dim] (a strided
// view of type From) stored at rows [valid, valid + seq) of a KV cache buffer
// of type To (rows outermost: [capacity, batch, heads, head_dim]), rounded
// to nearest even as they are stored when To is narrower (To::narrow: the
// rounding of bmc_convert_f32_to_kv).
//
// Grid (seq, heads, batch); threads walk head_dim. The launcher checks that
// the batches agree and valid + seq <= capacity before launching (the
// runtime grows a cache between steps, never a kernel), so the kernel does
// not check again. The CUDA emitter (compiler/targets/cuda) emits one
// __global__ per (From, To, heads, head_dim) calling this.
template <typename From, typename To>
__device__ __forceinline__ void bmc_kv_append_rows(bmc_kv_buffer cache, bmc_view4 rows, int heads,
                                                   int head_dim) {
  int s = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const typename From::storage *src = static_cast<const typename From::storage *>(rows.data) +
                                      rows.offset + b * bmc_view_stride(rows, 0) +
                                      h * bmc_view_stride(rows, 1) + s * bmc_view_stride(rows, 2);
  typename To::storage *dst = static_cast<typename To::storage *>(cache.data) +
                              (((cache.valid + s) * cache.batch + b) * heads + h) * (long long)head_dim;
  long long ds = rows.stride[3];
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x)
    dst[d] = To::narrow(From::widen(src[d * ds]));
}
