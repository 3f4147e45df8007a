// Datasets: chunked with Fletcher32 checksums on write; on read, type and shape checks and
// checksum failures reported as IoErrors naming the file and the dataset.
#include <numeric>

#include "lib/io/io-impl.h"

namespace k1rl::io {

namespace {

constexpr uint64_t kChunkElems = 1 << 18;  // ~1 MiB of float32 per chunk

std::string where(hid_t loc, const std::string& name) {
  return "dataset '" + name + "' in " + object_file_name(loc);
}

Hid open_dataset(hid_t loc, const std::string& name) {
  h5_quiet();
  hid_t d = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  if (d < 0)
    throw IoError("missing " + where(loc, name), h5_error_text(),
                  "the file is incomplete or of another kind; list it with h5dump -n");
  return Hid(d);
}

template <class T>
void check_class(hid_t loc, const std::string& name, hid_t d) {
  Hid ft(K1RL_H5_CHECK(H5Dget_type(d)));
  if (H5Tget_class(ft) != H5Tget_class(H5Type<T>::mem()))
    throw IoError(where(loc, name) + " has the wrong element type",
                  std::string("expected ") + H5Type<T>::name(),
                  "the file was written by another tool or version");
}

template <class T>
void read_all(hid_t loc, const std::string& name, hid_t d, T* out) {
  if (H5Dread(d, H5Type<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    throw IoError("cannot read " + where(loc, name), h5_error_text(),
                  "the file is corrupt (checksum mismatch or truncation); restore it or use an "
                  "earlier one");
}

}  // namespace

template <class T>
void write_dataset(hid_t loc, const std::string& name, const T* data,
                   const std::vector<uint64_t>& dims) {
  h5_quiet();
  std::vector<hsize_t> hd(dims.begin(), dims.end());
  uint64_t total = std::accumulate(dims.begin(), dims.end(), uint64_t{1}, std::multiplies<>());
  Hid space(K1RL_H5_CHECK(H5Screate_simple(static_cast<int>(hd.size()), hd.data(), nullptr)));
  Hid dcpl(K1RL_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)));
  if (total > 0 && !hd.empty()) {
    // Whole rows per chunk, about kChunkElems elements (at least one row, at most all of them).
    std::vector<hsize_t> chunk = hd;
    uint64_t row = total / hd[0];
    chunk[0] =
        std::max<hsize_t>(1, std::min<hsize_t>(hd[0], kChunkElems / std::max<uint64_t>(row, 1)));
    for (size_t i = 1; i < chunk.size() && row > (1ull << 30) / sizeof(T); ++i) chunk[i] = 1;
    K1RL_H5_CHECK(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()));
    K1RL_H5_CHECK(H5Pset_fletcher32(dcpl));
  }
  Hid lcpl(K1RL_H5_CHECK(H5Pcreate(H5P_LINK_CREATE)));
  K1RL_H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1));
  if (H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0)
    K1RL_H5_CHECK(H5Ldelete(loc, name.c_str(), H5P_DEFAULT));
  Hid d(K1RL_H5_CHECK(
      H5Dcreate2(loc, name.c_str(), H5Type<T>::file(), space, lcpl, dcpl, H5P_DEFAULT)));
  if (total > 0) K1RL_H5_CHECK(H5Dwrite(d, H5Type<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  // Closing writes the chunks still in the dataset's cache: on a full disk that fails, and the
  // data would be missing from a file that might still be published.
  K1RL_H5_CHECK(H5Dclose(d.release()));
}

std::vector<uint64_t> dataset_dims(hid_t loc, const std::string& name) {
  Hid d = open_dataset(loc, name);
  Hid space(K1RL_H5_CHECK(H5Dget_space(d)));
  int rank = K1RL_H5_CHECK(H5Sget_simple_extent_ndims(space));
  std::vector<hsize_t> hd(static_cast<size_t>(rank));
  K1RL_H5_CHECK(H5Sget_simple_extent_dims(space, hd.data(), nullptr));
  return {hd.begin(), hd.end()};
}

template <class T>
std::vector<T> read_dataset(hid_t loc, const std::string& name, std::vector<uint64_t>* dims) {
  std::vector<uint64_t> d = dataset_dims(loc, name);
  uint64_t total = std::accumulate(d.begin(), d.end(), uint64_t{1}, std::multiplies<>());
  Hid ds = open_dataset(loc, name);
  check_class<T>(loc, name, ds);
  std::vector<T> out(total);
  if (total > 0) read_all(loc, name, ds, out.data());
  if (dims) *dims = d;
  return out;
}

template <class T>
void read_dataset_into(hid_t loc, const std::string& name, T* out, uint64_t count) {
  std::vector<uint64_t> d = dataset_dims(loc, name);
  uint64_t total = std::accumulate(d.begin(), d.end(), uint64_t{1}, std::multiplies<>());
  if (total != count)
    throw IoError(
        where(loc, name) + " has the wrong size",
        strfmt("expected %llu elements, found %llu", static_cast<unsigned long long>(count),
               static_cast<unsigned long long>(total)),
        "the file was written for another configuration");
  Hid ds = open_dataset(loc, name);
  check_class<T>(loc, name, ds);
  if (total > 0) read_all(loc, name, ds, out);
}

template <class T>
void write_rows_collective(hid_t loc, const std::string& name, const T* data, uint64_t global_rows,
                           uint64_t row_offset, uint64_t local_rows, uint64_t cols) {
  h5_quiet();
  hsize_t gd[2] = {global_rows, cols};
  Hid fspace(K1RL_H5_CHECK(H5Screate_simple(2, gd, nullptr)));
  Hid lcpl(K1RL_H5_CHECK(H5Pcreate(H5P_LINK_CREATE)));
  K1RL_H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1));
  Hid d(K1RL_H5_CHECK(
      H5Dcreate2(loc, name.c_str(), H5Type<T>::file(), fspace, lcpl, H5P_DEFAULT, H5P_DEFAULT)));
  hsize_t start[2] = {row_offset, 0}, count[2] = {local_rows, cols};
  if (local_rows > 0)
    K1RL_H5_CHECK(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr));
  else
    K1RL_H5_CHECK(H5Sselect_none(fspace));
  Hid mspace(K1RL_H5_CHECK(H5Screate_simple(2, count, nullptr)));
  if (local_rows == 0) K1RL_H5_CHECK(H5Sselect_none(mspace));
  Hid xfer(K1RL_H5_CHECK(H5Pcreate(H5P_DATASET_XFER)));
  K1RL_H5_CHECK(H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE));
  K1RL_H5_CHECK(H5Dwrite(d, H5Type<T>::mem(), mspace, fspace, xfer, data));
  K1RL_H5_CHECK(H5Dclose(d.release()));  // as write_dataset: a failed close is a failed write
}

#define K1RL_INSTANTIATE(T)                                                                       \
  template void write_dataset<T>(hid_t, const std::string&, const T*,                             \
                                 const std::vector<uint64_t>&);                                   \
  template std::vector<T> read_dataset<T>(hid_t, const std::string&, std::vector<uint64_t>*);     \
  template void read_dataset_into<T>(hid_t, const std::string&, T*, uint64_t);                    \
  template void write_rows_collective<T>(hid_t, const std::string&, const T*, uint64_t, uint64_t, \
                                         uint64_t, uint64_t);
K1RL_INSTANTIATE(float)
K1RL_INSTANTIATE(double)
K1RL_INSTANTIATE(int32_t)
K1RL_INSTANTIATE(int64_t)
K1RL_INSTANTIATE(uint8_t)
K1RL_INSTANTIATE(uint16_t)
K1RL_INSTANTIATE(uint64_t)
#undef K1RL_INSTANTIATE

}  // namespace k1rl::io
