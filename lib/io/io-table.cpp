// Append-only tables (metrics/1): one group per table, one extendable float64 column per metric.
// An append copies the published file, extends it and publishes it again under an fcntl lock,
// so readers never see a half-written row and writers of different tables do not collide.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "lib/io/io-impl.h"

namespace fs = std::filesystem;

namespace k1rl::io {

namespace {

class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR, 0644);
    if (fd_ < 0)
      throw IoError("cannot create lock file '" + path + "'", std::strerror(errno),
                    "check that the run directory is writable");
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    while (::fcntl(fd_, F_SETLKW, &fl) != 0) {
      if (errno == EINTR) continue;
      ::close(fd_);
      throw IoError(
          "cannot lock '" + path + "'", std::strerror(errno),
          "the filesystem may not support fcntl locks; mount it with locking (Lustre: flock)");
    }
  }
  ~FileLock() { ::close(fd_); }  // closing releases the lock

 private:
  int fd_ = -1;
};

constexpr hsize_t kTableChunk = 1024;

hsize_t column_length(hid_t group, const std::string& col) {
  Hid d(K1RL_H5_CHECK(H5Dopen2(group, col.c_str(), H5P_DEFAULT)));
  Hid s(K1RL_H5_CHECK(H5Dget_space(d)));
  hsize_t n = 0;
  K1RL_H5_CHECK(H5Sget_simple_extent_dims(s, &n, nullptr));
  return n;
}

void create_column(hid_t group, const std::string& col, hsize_t fill_rows) {
  hsize_t dims = 0, maxdims = H5S_UNLIMITED, chunk = kTableChunk;
  Hid space(K1RL_H5_CHECK(H5Screate_simple(1, &dims, &maxdims)));
  Hid dcpl(K1RL_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)));
  K1RL_H5_CHECK(H5Pset_chunk(dcpl, 1, &chunk));
  K1RL_H5_CHECK(H5Pset_fletcher32(dcpl));
  double nan = std::nan("");
  K1RL_H5_CHECK(H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &nan));
  Hid d(K1RL_H5_CHECK(
      H5Dcreate2(group, col.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)));
  if (fill_rows > 0) K1RL_H5_CHECK(H5Dset_extent(d, &fill_rows));  // earlier rows read as NaN
}

void append_column(hid_t group, const std::string& col, const std::vector<double>& values) {
  Hid d(K1RL_H5_CHECK(H5Dopen2(group, col.c_str(), H5P_DEFAULT)));
  Hid s0(K1RL_H5_CHECK(H5Dget_space(d)));
  hsize_t n = 0;
  K1RL_H5_CHECK(H5Sget_simple_extent_dims(s0, &n, nullptr));
  hsize_t k = values.size(), total = n + k;
  K1RL_H5_CHECK(H5Dset_extent(d, &total));
  Hid fs(K1RL_H5_CHECK(H5Dget_space(d)));
  K1RL_H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &n, nullptr, &k, nullptr));
  Hid ms(K1RL_H5_CHECK(H5Screate_simple(1, &k, nullptr)));
  K1RL_H5_CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, values.data()));
  K1RL_H5_CHECK(H5Dclose(d.release()));  // writes the cached chunk: check that it could
}

}  // namespace

void append_rows(const std::string& path, const std::string& format, const std::string& table,
                 const std::vector<Row>& rows) {
  if (rows.empty()) return;
  h5_quiet();
  FileLock lock(path + ".lock");
  std::string temp = temp_name(path);
  hid_t f;
  const bool fresh = !fs::exists(path);
  if (!fresh) {
    { H5Reader check(path, format.substr(0, format.find('/')), 1 << 20); }
    std::error_code ec;
    fs::copy_file(path, temp, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      ::unlink(temp.c_str());  // the partial copy
      throw IoError("cannot copy '" + path + "' for appending", ec.message(), "check free space");
    }
    f = H5Fopen(temp.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  } else {
    f = H5Fcreate(temp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  }
  if (f < 0) {
    ::unlink(temp.c_str());
    throw IoError("cannot write '" + temp + "'", h5_error_text(),
                  "check free space and permissions");
  }
  Hid file(f);
  off_t reserved = -1;
  try {
    if (fresh) set_attr(file, "k1rl_format", format);
    Hid group = create_group(file, table);
    std::set<std::string> cols;
    for (const auto& c : list_links(group)) cols.insert(c);
    hsize_t n = cols.empty() ? 0 : column_length(group, *cols.begin());
    for (const auto& row : rows)
      for (const auto& [c, v] : row)
        if (cols.insert(c).second) create_column(group, c, n);
    for (const auto& c : cols) {
      std::vector<double> values;
      values.reserve(rows.size());
      for (const auto& row : rows) {
        auto it = row.find(c);
        values.push_back(it == row.end() ? std::nan("") : it->second);
      }
      append_column(group, c, values);
    }
    reserved = reserve_flush_room(file, temp);
    K1RL_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL));
  } catch (...) {
    close_discarding(file);
    ::unlink(temp.c_str());
    throw;
  }
  file.reset();
  if (reserved >= 0) release_flush_room(temp, reserved);
  try {
    rename_into_place(temp, path);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

std::map<std::string, std::vector<double>> read_table(const std::string& path,
                                                      const std::string& table) {
  std::string fmt = read_format(path);
  H5Reader r(path, fmt.substr(0, fmt.find('/')), 1 << 20);
  if (!has_link(r.root(), table))
    throw IoError("no table '" + table + "' in '" + path + "'", "that app wrote no rows yet",
                  "check the app name (train, rollout, reward)");
  Hid g = open_group(r.root(), table);
  std::map<std::string, std::vector<double>> out;
  for (const auto& c : list_links(g)) out[c] = read_dataset<double>(g, c);
  return out;
}

}  // namespace k1rl::io
