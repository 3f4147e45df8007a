// k1rl io: HDF5 helpers. Atomic publish (temporary name in the same folder, flush, close, rename),
// the k1rl_format attribute and its version check, Fletcher32-checked datasets, append-only tables,
// and readers that turn a truncated or corrupt file into an IoError naming the file.
#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lib/core/core.h"

// Checks an HDF5 call returning herr_t or hid_t (negative = failure).
#define K1RL_H5_CHECK(call)                                                                        \
  ([&]() {                                                                                         \
    auto k1rl_h5_rc_ = (call);                                                                     \
    if (k1rl_h5_rc_ < 0)                                                                           \
      ::k1rl::foreign_call_failed("HDF5", #call, ::k1rl::io::h5_error_text(), __FILE__, __LINE__); \
    return k1rl_h5_rc_;                                                                            \
  }())

namespace k1rl::io {

// Turns off HDF5's automatic error printing (errors become exceptions). Called by every entry
// point.
void h5_quiet();
std::string h5_error_text();  // the innermost message of the current HDF5 error stack

// RAII owner of one hid_t (file, group, dataset, dataspace, type, property list, attribute).
class Hid {
 public:
  Hid() = default;
  explicit Hid(hid_t id) : id_(id) {}
  Hid(Hid&& o) noexcept : id_(o.id_) { o.id_ = -1; }
  Hid& operator=(Hid&& o) noexcept;
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  ~Hid() { reset(); }
  void reset();
  hid_t release();  // gives up ownership: the caller closes the id (and checks that it closed)
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
};

// Closes a file whose contents are being thrown away (a failed write), so that the close itself
// cannot fail: with the default (sec2) driver, HDF5's descriptor is first pointed at an anonymous
// in-memory file, where the final flush of its cached metadata lands. On a full disk a plain
// H5Fclose fails, and libhdf5 1.10 then keeps the id of a freed file, on which H5close (run by
// MPI_Finalize and at exit) segfaults. The caller deletes the file afterwards.
void close_discarding(Hid& file);

// "<dir>/<name>.tmp-<host>-<pid>": the temporary twin of a final path. Readers ignore such names.
std::string temp_name(const std::string& final_path);
bool is_temp_name(const std::string& path);
// Removes leftover temporary files in `dir` (from killed writers) older than `min_age_s`.
int remove_stale_temps(const std::string& dir, double min_age_s = 0.0);
void make_dirs(const std::string& dir);  // mkdir -p; throws IoError
bool file_exists(const std::string& path);

// Writes `text` to `path` atomically (temp + fsync + rename + fsync of the folder).
void publish_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);  // throws IoError naming the file

// An HDF5 file written under a temporary name and renamed into place by publish(). Without
// publish() the destructor deletes the temporary file, so a failure leaves nothing visible.
// With a communicator other than MPI_COMM_NULL, the file is opened with the MPI-IO driver and
// every call (including publish) is collective.
class AtomicH5 {
 public:
  AtomicH5(const std::string& final_path, const std::string& format, MPI_Comm comm = MPI_COMM_NULL);
  ~AtomicH5();
  AtomicH5(const AtomicH5&) = delete;
  AtomicH5& operator=(const AtomicH5&) = delete;
  hid_t root() const { return file_.get(); }
  const std::string& path() const { return final_; }
  void publish();

 private:
  std::string final_, temp_;
  MPI_Comm comm_;
  Hid file_;
  bool published_ = false;
};

// A published file opened read-only. Checks that the root attribute k1rl_format is
// "<kind>/<version>" with the expected kind and a version this build reads (<= max_version).
class H5Reader {
 public:
  H5Reader(const std::string& path, const std::string& kind, int max_version,
           MPI_Comm comm = MPI_COMM_NULL);
  hid_t root() const { return file_.get(); }
  const std::string& path() const { return path_; }
  int version() const { return version_; }

 private:
  std::string path_;
  Hid file_;
  int version_ = 0;
};

// "<kind>/<version>" of a file, or throws IoError (missing, truncated, not HDF5, no attribute).
std::string read_format(const std::string& path);

// Groups. create_group makes intermediate groups ("params/model.layers.0" works).
Hid create_group(hid_t loc, const std::string& name);
Hid open_group(hid_t loc, const std::string& name);
bool has_link(hid_t loc, const std::string& name);
bool is_group(hid_t loc, const std::string& name);  // false when missing or not a group
std::vector<std::string> list_links(hid_t loc, const std::string& group = ".");

// Attributes on any object (scalar or 1-D).
void set_attr(hid_t obj, const std::string& name, const std::string& value);
void set_attr(hid_t obj, const std::string& name, int64_t value);
void set_attr(hid_t obj, const std::string& name, double value);
void set_attr(hid_t obj, const std::string& name, const std::vector<uint64_t>& value);
std::string get_attr_string(hid_t obj, const std::string& name);
int64_t get_attr_int(hid_t obj, const std::string& name);
double get_attr_double(hid_t obj, const std::string& name);
std::vector<uint64_t> get_attr_u64s(hid_t obj, const std::string& name);
bool has_attr(hid_t obj, const std::string& name);
std::map<std::string, std::string> get_string_attrs(hid_t obj);  // every string attribute

// Datasets: row-major, Fletcher32 checksums, chunked. Element types: float, double, int32_t,
// int64_t, uint8_t, uint16_t, uint64_t. Reading checks type and, when given, the shape, and turns
// checksum failures into an IoError naming file and dataset.
template <class T>
void write_dataset(hid_t loc, const std::string& name, const T* data,
                   const std::vector<uint64_t>& dims);
template <class T>
void write_dataset(hid_t loc, const std::string& name, const std::vector<T>& data) {
  write_dataset(loc, name, data.data(), {static_cast<uint64_t>(data.size())});
}
std::vector<uint64_t> dataset_dims(hid_t loc, const std::string& name);
template <class T>
std::vector<T> read_dataset(hid_t loc, const std::string& name,
                            std::vector<uint64_t>* dims = nullptr);
// Reads into caller memory; the dataset must have exactly `count` elements.
template <class T>
void read_dataset_into(hid_t loc, const std::string& name, T* out, uint64_t count);

// Collective write of a dataset whose rows are split over the ranks of the file's communicator:
// this rank writes rows [row_offset, row_offset + local_rows) of a [global_rows, cols] dataset.
// (No Fletcher32: HDF5 1.10 cannot filter collectively written data.)
template <class T>
void write_rows_collective(hid_t loc, const std::string& name, const T* data, uint64_t global_rows,
                           uint64_t row_offset, uint64_t local_rows, uint64_t cols);

// Append-only tables (metrics/1): a group per table, one extendable float64 dataset per column,
// all of the same length. append_rows publishes the whole file again atomically under a lock
// (<path>.lock, fcntl), so concurrent writers of different tables lose nothing.
using Row = std::map<std::string, double>;
void append_rows(const std::string& path, const std::string& format, const std::string& table,
                 const std::vector<Row>& rows);
// All rows of a table: column name -> values. Throws IoError when missing.
std::map<std::string, std::vector<double>> read_table(const std::string& path,
                                                      const std::string& table);

}  // namespace k1rl::io
