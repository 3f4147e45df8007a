// Atomic publish: every file is written under "<name>.tmp-<host>-<pid>" in the same folder,
// flushed, fsynced, closed and renamed, so a reader sees either the old file or the new one.
// Also the format-checked reader that turns truncated or foreign files into IoErrors.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/io/io-impl.h"

namespace fs = std::filesystem;

namespace k1rl::io {

namespace {

constexpr const char* kTempTag = ".tmp-";

std::string errno_text() {
  return std::strerror(errno);
}

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;  // best effort: some filesystems refuse to open folders
  ::fsync(fd);
  ::close(fd);
}

std::string parent_dir(const std::string& path) {
  fs::path p = fs::path(path).parent_path();
  return p.empty() ? "." : p.string();
}

}  // namespace

void rename_into_place(const std::string& temp, const std::string& final_path) {
  fsync_path(temp, false);
  if (::rename(temp.c_str(), final_path.c_str()) != 0)
    throw IoError("cannot publish '" + final_path + "'", "rename failed: " + errno_text(),
                  "check that the folder is writable and on one filesystem");
  fsync_path(parent_dir(final_path), true);
}

namespace {

int comm_rank(MPI_Comm comm) {
  int r = 0;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &r);
  return r;
}

}  // namespace

std::string temp_name(const std::string& final_path) {
  char host[128] = "host";
  gethostname(host, sizeof host - 1);
  return final_path + kTempTag + host + "-" + std::to_string(getpid());
}

bool is_temp_name(const std::string& path) {
  return fs::path(path).filename().string().find(kTempTag) != std::string::npos;
}

int remove_stale_temps(const std::string& dir, double min_age_s) {
  int removed = 0;
  std::error_code ec;
  auto now = fs::file_time_type::clock::now();
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file() || !is_temp_name(e.path().string())) continue;
    double age = std::chrono::duration<double>(now - e.last_write_time()).count();
    if (age >= min_age_s && fs::remove(e.path(), ec)) ++removed;
  }
  return removed;
}

void make_dirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw IoError("cannot create folder '" + dir + "'", ec ? ec.message() : "not a folder",
                  "check the run directory path and its permissions");
}

bool file_exists(const std::string& path) {
  return fs::exists(path);
}

void publish_text(const std::string& path, const std::string& text) {
  std::string temp = temp_name(path);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(temp, ec);
      throw IoError("cannot write '" + temp + "'", errno_text(),
                    "check free space and permissions");
    }
  }
  rename_into_place(temp, path);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read '" + path + "'", errno_text(), "check the path");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// --- AtomicH5 -----------------------------------------------------------------------------

AtomicH5::AtomicH5(const std::string& final_path, const std::string& format, MPI_Comm comm)
    : final_(final_path), comm_(comm) {
  h5_quiet();
  temp_ = temp_name(final_path);
  Hid fapl(K1RL_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  // The 1.8+ file format checksums every piece of metadata (superblock, object headers, heaps),
  // so a flipped byte there is an "incorrect metadata checksum" error on open, not a crash inside
  // HDF5 (libhdf5 1.10 segfaults closing a file whose v1 attribute message was corrupt: found by
  // tests/unit/reliability/test-fuzz-inputs.cpp). Readable by HDF5 >= 1.8 and h5py.
  K1RL_H5_CHECK(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST));
  if (comm != MPI_COMM_NULL) {
    // Every rank must open the same temporary file: take rank 0's name.
    int len = static_cast<int>(temp_.size());
    K1RL_MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, 0, comm));
    temp_.resize(static_cast<size_t>(len));
    K1RL_MPI_CHECK(MPI_Bcast(temp_.data(), len, MPI_CHAR, 0, comm));
    K1RL_H5_CHECK(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  }
  hid_t f = H5Fcreate(temp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (f < 0)
    throw IoError("cannot create '" + temp_ + "'", h5_error_text(),
                  "check that the folder exists, is writable and has free space");
  file_ = Hid(f);
  set_attr(file_, "k1rl_format", format);
}

AtomicH5::~AtomicH5() {
  if (published_) return;
  close_discarding(file_);
  if (comm_rank(comm_) == 0) ::unlink(temp_.c_str());
}

// Reserved beyond the end of the file (FALLOC_FL_KEEP_SIZE), so the file itself does not change:
// its size, 64 KiB and 1/128 more (the flush writes metadata already placed inside the file).
off_t reserve_flush_room(hid_t file, const std::string& temp) {
  Hid fapl(H5Fget_access_plist(file));
  int* fd = nullptr;
  hsize_t size = 0;
  if (!fapl.valid() || H5Pget_driver(fapl) != H5FD_SEC2 ||
      H5Fget_vfd_handle(file, H5P_DEFAULT, reinterpret_cast<void**>(&fd)) < 0 || !fd ||
      H5Fget_filesize(file, &size) < 0)
    return -1;
  off_t end = static_cast<off_t>(size + (64 << 10) + size / 128);
  if (::fallocate(*fd, FALLOC_FL_KEEP_SIZE, 0, end) == 0) return end;
  if (errno == EOPNOTSUPP) return -1;
  throw IoError("cannot finish '" + temp + "'", errno_text(), "check free space and quotas");
}

// Gives back the reserved room that the flush did not use.
void release_flush_room(const std::string& temp, off_t end) {
  int fd = ::open(temp.c_str(), O_WRONLY);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size < end)
    (void)::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st.st_size, end - st.st_size);
  ::close(fd);
}

void AtomicH5::publish() {
  off_t reserved = reserve_flush_room(file_, temp_);
  K1RL_H5_CHECK(H5Fflush(file_, H5F_SCOPE_GLOBAL));
  file_.reset();
  if (reserved >= 0) release_flush_room(temp_, reserved);
  if (comm_ != MPI_COMM_NULL) K1RL_MPI_CHECK(MPI_Barrier(comm_));
  if (comm_rank(comm_) == 0) rename_into_place(temp_, final_);
  if (comm_ != MPI_COMM_NULL) K1RL_MPI_CHECK(MPI_Barrier(comm_));
  published_ = true;
}

// --- readers ------------------------------------------------------------------------------

namespace {
Hid open_checked(const std::string& path, MPI_Comm comm) {
  h5_quiet();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw IoError("cannot open '" + path + "'", errno_text(), "check the path");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw IoError("cannot open '" + path + "'", "not an HDF5 file (truncated or overwritten?)",
                  "restore it or use an earlier file");
  Hid fapl(K1RL_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  if (comm != MPI_COMM_NULL) K1RL_H5_CHECK(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (f < 0)
    throw IoError("cannot open '" + path + "'",
                  "corrupt or truncated HDF5 file (" + h5_error_text() + ")",
                  "restore it or use an earlier file");
  return Hid(f);
}
}  // namespace

std::string read_format(const std::string& path) {
  Hid f = open_checked(path, MPI_COMM_NULL);
  if (!has_attr(f, "k1rl_format"))
    throw IoError("'" + path + "' is not a k1rl file", "no k1rl_format attribute",
                  "give a file written by k1rl");
  return get_attr_string(f, "k1rl_format");
}

H5Reader::H5Reader(const std::string& path, const std::string& kind, int max_version, MPI_Comm comm)
    : path_(path) {
  if (is_temp_name(path))
    throw IoError("refusing to read '" + path + "'", "it is an unpublished temporary file",
                  "read the published name (without .tmp-...)");
  file_ = open_checked(path, comm);
  if (!has_attr(file_, "k1rl_format"))
    throw IoError("'" + path + "' is not a k1rl file", "no k1rl_format attribute",
                  "give a " + kind + " file written by k1rl");
  std::string fmt = get_attr_string(file_, "k1rl_format");
  size_t slash = fmt.find('/');
  std::string got_kind = fmt.substr(0, slash);
  if (got_kind != kind)
    throw IoError("'" + path + "' is a " + got_kind + " file", "expected a " + kind + " file",
                  "check which file you passed");
  try {
    version_ = slash == std::string::npos ? -1 : std::stoi(fmt.substr(slash + 1));
  } catch (const std::exception&) {
    version_ = -1;
  }
  if (version_ < 1 || version_ > max_version)
    throw IoError("'" + path + "' has format " + fmt,
                  strfmt("this build reads %s/1 to %s/%d", kind.c_str(), kind.c_str(), max_version),
                  "use the k1rl version that wrote it, or convert it");
}

}  // namespace k1rl::io
