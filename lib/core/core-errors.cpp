// Typed errors, printf-style formatting, the process identity used in messages, and the failure
// path of the foreign-call check macros (K1RL_MPI_CHECK, K1RL_H5_CHECK, ...).
#include <mpi.h>
#include <unistd.h>

#include <cstdio>

#include "lib/core/core.h"

namespace k1rl {

namespace {
std::string compose(const std::string& what, const std::string& why, const std::string& hint) {
  std::string s = what + ": " + why;
  if (!hint.empty()) s += "; " + hint;
  return s;
}
struct Identity {
  std::string app = "k1rl";
  int rank = -1, size = 0;
};
Identity& identity() {
  static Identity id;
  return id;
}
}  // namespace

Error::Error(std::string what, std::string why, std::string hint)
    : std::runtime_error(compose(what, why, hint)),
      what_(std::move(what)),
      why_(std::move(why)),
      hint_(std::move(hint)) {}

std::string Error::line() const {
  return compose(what_, why_, hint_);
}

std::string vstrfmt(const char* fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return fmt;
  std::string s(static_cast<size_t>(n), '\0');
  std::vsnprintf(s.data(), s.size() + 1, fmt, ap);
  return s;
}

std::string strfmt(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vstrfmt(fmt, ap);
  va_end(ap);
  return s;
}

void set_process_identity(const std::string& app, int rank, int size) {
  identity() = {app, rank, size};
}
const std::string& process_app() {
  return identity().app;
}
int process_rank() {
  return identity().rank < 0 ? 0 : identity().rank;
}

std::string process_where() {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  if (identity().rank < 0) return host;
  return strfmt("rank %d on %s", identity().rank, host);
}

void foreign_call_failed(const char* lib, const char* expr, const std::string& detail,
                         const char* file, int line) {
  const char* base = file;
  for (const char* p = file; *p; ++p)
    if (*p == '/') base = p + 1;
  throw RuntimeFault(strfmt("%s call failed (%s, %s:%d)", lib, process_where().c_str(), base, line),
                     strfmt("%s: %s", expr, detail.c_str()),
                     std::string(lib) == "MPI"
                         ? "see the messages of the other ranks; a dead peer usually fails first"
                         : "check the inputs, free space and the earlier messages");
}

std::string mpi_error_text(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return strfmt("MPI error %d", code);
  return std::string(buf, static_cast<size_t>(len));
}

}  // namespace k1rl
