// Basic HDF5 plumbing: quiet error stacks, error text, handles, groups and attributes.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

#include "lib/io/io-impl.h"

namespace k1rl::io {

void h5_quiet() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

std::string h5_error_text() {
  std::string text;
  auto walk = [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
    auto* s = static_cast<std::string*>(data);
    if (e->desc && *e->desc) *s = e->desc;  // keep the innermost (last walked upward)
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "unknown HDF5 error" : text;
}

Hid& Hid::operator=(Hid&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = -1;
  }
  return *this;
}

void Hid::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE:
      H5Fclose(id_);
      break;
    case H5I_GROUP:
      H5Gclose(id_);
      break;
    case H5I_DATASET:
      H5Dclose(id_);
      break;
    case H5I_DATASPACE:
      H5Sclose(id_);
      break;
    case H5I_DATATYPE:
      H5Tclose(id_);
      break;
    case H5I_ATTR:
      H5Aclose(id_);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(id_);
      break;
    default:
      break;
  }
  id_ = -1;
}

void close_discarding(Hid& file) {
  if (!file.valid()) return;
  if (H5Iget_type(file) == H5I_FILE) {
    Hid fapl(H5Fget_access_plist(file));
    int* fd = nullptr;
    if (fapl.valid() && H5Pget_driver(fapl) == H5FD_SEC2 &&
        H5Fget_vfd_handle(file, H5P_DEFAULT, reinterpret_cast<void**>(&fd)) >= 0 && fd &&
        *fd >= 0) {
      // dup3 closes the real file's descriptor and reuses its number for the sink.
      int sink = ::memfd_create("k1rl-discard", MFD_CLOEXEC);
      if (sink >= 0) {
        ::dup3(sink, *fd, O_CLOEXEC);
        ::close(sink);
      }
    }
    // Without the sink (MPI-IO driver, no memfd) the close below may still fail on a full disk.
  }
  file.reset();
  H5Eclear2(H5E_DEFAULT);
}

hid_t Hid::release() {
  hid_t id = id_;
  id_ = -1;
  return id;
}

std::string object_file_name(hid_t obj) {
  ssize_t n = H5Fget_name(obj, nullptr, 0);
  if (n <= 0) return "?";
  std::string s(static_cast<size_t>(n), '\0');
  H5Fget_name(obj, s.data(), s.size() + 1);
  return s;
}

Hid create_group(hid_t loc, const std::string& name) {
  h5_quiet();
  if (has_link(loc, name)) return open_group(loc, name);
  Hid lcpl(K1RL_H5_CHECK(H5Pcreate(H5P_LINK_CREATE)));
  K1RL_H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1));
  return Hid(K1RL_H5_CHECK(H5Gcreate2(loc, name.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT)));
}

Hid open_group(hid_t loc, const std::string& name) {
  hid_t g = H5Gopen2(loc, name.c_str(), H5P_DEFAULT);
  if (g < 0)
    throw IoError("missing group '" + name + "' in " + object_file_name(loc), h5_error_text(),
                  "the file is incomplete or of another kind; check it with h5dump -n");
  return Hid(g);
}

bool has_link(hid_t loc, const std::string& name) {
  // Check each path component so that "a/b" works when "a" is missing.
  size_t pos = 0;
  while (true) {
    size_t slash = name.find('/', pos);
    std::string prefix = name.substr(0, slash);
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

bool is_group(hid_t loc, const std::string& name) {
  if (!has_link(loc, name)) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name(loc, name.c_str(), &info, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_GROUP;
}

std::vector<std::string> list_links(hid_t loc, const std::string& group) {
  Hid g = open_group(loc, group);
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
  };
  K1RL_H5_CHECK(H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names));
  return names;
}

// --- attributes ---------------------------------------------------------------------------

namespace {
void write_attr(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type, hid_t space,
                const void* data) {
  if (H5Aexists(obj, name.c_str()) > 0) K1RL_H5_CHECK(H5Adelete(obj, name.c_str()));
  Hid a(K1RL_H5_CHECK(H5Acreate2(obj, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT)));
  K1RL_H5_CHECK(H5Awrite(a, mem_type, data));
}

Hid open_attr(hid_t obj, const std::string& name) {
  hid_t a = H5Aopen(obj, name.c_str(), H5P_DEFAULT);
  if (a < 0)
    throw IoError("missing attribute '" + name + "' in " + object_file_name(obj), h5_error_text(),
                  "the file was not written by this k1rl version; check it with h5dump -A");
  return Hid(a);
}
}  // namespace

void set_attr(hid_t obj, const std::string& name, const std::string& value) {
  h5_quiet();
  Hid type(K1RL_H5_CHECK(H5Tcopy(H5T_C_S1)));
  K1RL_H5_CHECK(H5Tset_size(type, value.empty() ? 1 : value.size()));
  K1RL_H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLPAD));
  K1RL_H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8));
  Hid space(K1RL_H5_CHECK(H5Screate(H5S_SCALAR)));
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  write_attr(obj, name, type, type, space, padded.data());
}

void set_attr(hid_t obj, const std::string& name, int64_t value) {
  h5_quiet();
  Hid space(K1RL_H5_CHECK(H5Screate(H5S_SCALAR)));
  write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space, &value);
}

void set_attr(hid_t obj, const std::string& name, double value) {
  h5_quiet();
  Hid space(K1RL_H5_CHECK(H5Screate(H5S_SCALAR)));
  write_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space, &value);
}

void set_attr(hid_t obj, const std::string& name, const std::vector<uint64_t>& value) {
  h5_quiet();
  hsize_t n = value.size();
  Hid space(K1RL_H5_CHECK(H5Screate_simple(1, &n, nullptr)));
  write_attr(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, space, value.data());
}

bool has_attr(hid_t obj, const std::string& name) {
  return H5Aexists(obj, name.c_str()) > 0;
}

std::string get_attr_string(hid_t obj, const std::string& name) {
  h5_quiet();
  Hid a = open_attr(obj, name);
  Hid ftype(K1RL_H5_CHECK(H5Aget_type(a)));
  if (H5Tget_class(ftype) != H5T_STRING)
    throw IoError("attribute '" + name + "' in " + object_file_name(obj) + " is not text",
                  "unexpected type", "the file was not written by k1rl");
  if (H5Tis_variable_str(ftype) > 0) {
    Hid mtype(K1RL_H5_CHECK(H5Tcopy(H5T_C_S1)));
    K1RL_H5_CHECK(H5Tset_size(mtype, H5T_VARIABLE));
    K1RL_H5_CHECK(H5Tset_cset(mtype, H5Tget_cset(ftype)));
    char* p = nullptr;
    K1RL_H5_CHECK(H5Aread(a, mtype, &p));
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  size_t n = H5Tget_size(ftype);
  std::string s(n, '\0');
  K1RL_H5_CHECK(H5Aread(a, ftype, s.data()));
  s.resize(strnlen(s.c_str(), n));
  return s;
}

int64_t get_attr_int(hid_t obj, const std::string& name) {
  h5_quiet();
  Hid a = open_attr(obj, name);
  int64_t v = 0;
  K1RL_H5_CHECK(H5Aread(a, H5T_NATIVE_INT64, &v));
  return v;
}

double get_attr_double(hid_t obj, const std::string& name) {
  h5_quiet();
  Hid a = open_attr(obj, name);
  double v = 0;
  K1RL_H5_CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, &v));
  return v;
}

std::vector<uint64_t> get_attr_u64s(hid_t obj, const std::string& name) {
  h5_quiet();
  Hid a = open_attr(obj, name);
  Hid space(K1RL_H5_CHECK(H5Aget_space(a)));
  hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<uint64_t> v(static_cast<size_t>(n < 0 ? 0 : n));
  if (!v.empty()) K1RL_H5_CHECK(H5Aread(a, H5T_NATIVE_UINT64, v.data()));
  return v;
}

std::map<std::string, std::string> get_string_attrs(hid_t obj) {
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
  };
  hsize_t idx = 0;
  K1RL_H5_CHECK(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &names));
  std::map<std::string, std::string> out;
  for (const auto& n : names) {
    Hid a(K1RL_H5_CHECK(H5Aopen(obj, n.c_str(), H5P_DEFAULT)));
    Hid t(K1RL_H5_CHECK(H5Aget_type(a)));
    if (H5Tget_class(t) == H5T_STRING) out[n] = get_attr_string(obj, n);
  }
  return out;
}

}  // namespace k1rl::io
