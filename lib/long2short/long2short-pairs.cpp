// DPO pairs from scored samples: the pair rule of lib/rl (dpo_pairs), the reference policy's
// summed answer log-probs (one forward pass per micro-batch, computed once), and their file
// dpo_pairs/1 (flat token arrays with offsets, written under a temporary name and renamed).
#include "lib/io/io.h"
#include "lib/long2short/long2short.h"
#include "lib/rl/rl.h"

namespace k1rl::long2short {

std::vector<double> answer_logprob_sums(model::Model& m,
                                        const std::vector<const std::vector<int32_t>*>& seqs,
                                        const std::vector<int32_t>& prompt_len,
                                        int64_t micro_batch_tokens) {
  std::vector<double> sums(seqs.size(), 0.0);
  for (size_t a = 0; a < seqs.size();) {
    size_t b = a;
    int64_t tokens = 0;
    while (b < seqs.size() &&
           (b == a || tokens + static_cast<int64_t>(seqs[b]->size()) <= micro_batch_tokens))
      tokens += static_cast<int64_t>(seqs[b++]->size());
    model::Batch batch;
    batch.cu.push_back(0);
    for (size_t i = a; i < b; ++i) {
      batch.tokens.insert(batch.tokens.end(), seqs[i]->begin(), seqs[i]->end());
      for (size_t t = 0; t < seqs[i]->size(); ++t)
        batch.mask.push_back(static_cast<int32_t>(t) >= prompt_len[i]);
      batch.cu.push_back(static_cast<int32_t>(batch.tokens.size()));
    }
    model::ForwardOptions fo;
    fo.entropy = false;
    const model::TokenOutputs& out = m.forward(batch, fo);
    for (size_t i = a; i < b; ++i) {
      const size_t start = static_cast<size_t>(batch.cu[i - a]);
      for (size_t t = static_cast<size_t>(prompt_len[i]); t < seqs[i]->size(); ++t)
        sums[i] += out.logprob[start + t];
    }
    a = b;
  }
  return sums;
}

std::vector<DpoPair> build_dpo_pairs(const std::vector<PromptSamples>& samples, model::Model& ref,
                                     double long_ratio, int64_t micro_batch_tokens) {
  std::vector<DpoPair> pairs;
  for (const auto& ps : samples) {
    std::vector<rl::DpoCandidate> cands;
    for (size_t j = 0; j < ps.answers.size(); ++j)
      cands.push_back({static_cast<int64_t>(ps.answers[j].size()), ps.correct[j]});
    for (const auto& [w, l] : rl::dpo_pairs(cands, long_ratio)) {
      DpoPair p;
      p.task = static_cast<int64_t>(ps.task);
      p.prompt_len = static_cast<int32_t>(ps.prompt.size());
      p.chosen = ps.prompt;
      p.chosen.insert(p.chosen.end(), ps.answers[w].begin(), ps.answers[w].end());
      p.rejected = ps.prompt;
      p.rejected.insert(p.rejected.end(), ps.answers[l].begin(), ps.answers[l].end());
      pairs.push_back(std::move(p));
    }
  }
  std::vector<const std::vector<int32_t>*> seqs;
  std::vector<int32_t> plen;
  for (const auto& p : pairs) {
    seqs.push_back(&p.chosen);
    seqs.push_back(&p.rejected);
    plen.push_back(p.prompt_len);
    plen.push_back(p.prompt_len);
  }
  std::vector<double> sums = answer_logprob_sums(ref, seqs, plen, micro_batch_tokens);
  for (size_t i = 0; i < pairs.size(); ++i) {
    pairs[i].ref_chosen = sums[2 * i];
    pairs[i].ref_rejected = sums[2 * i + 1];
  }
  return pairs;
}

namespace {
void flat(const std::vector<DpoPair>& pairs, bool chosen, std::vector<int32_t>* tokens,
          std::vector<int64_t>* cu) {
  cu->push_back(0);
  for (const auto& p : pairs) {
    const auto& s = chosen ? p.chosen : p.rejected;
    tokens->insert(tokens->end(), s.begin(), s.end());
    cu->push_back(static_cast<int64_t>(tokens->size()));
  }
}
}  // namespace

void save_dpo_pairs(const std::string& path, const std::vector<DpoPair>& pairs,
                    const std::string& source) {
  io::AtomicH5 f(path, "dpo_pairs/1");
  const hid_t root = f.root();
  io::set_attr(root, "source", source);
  io::set_attr(root, "pairs", static_cast<int64_t>(pairs.size()));
  std::vector<int32_t> ct, rt, plen;
  std::vector<int64_t> ccu, rcu, task;
  std::vector<double> rc, rr;
  flat(pairs, true, &ct, &ccu);
  flat(pairs, false, &rt, &rcu);
  for (const auto& p : pairs) {
    plen.push_back(p.prompt_len);
    task.push_back(p.task);
    rc.push_back(p.ref_chosen);
    rr.push_back(p.ref_rejected);
  }
  io::write_dataset(root, "chosen_tokens", ct);
  io::write_dataset(root, "chosen_cu", ccu);
  io::write_dataset(root, "rejected_tokens", rt);
  io::write_dataset(root, "rejected_cu", rcu);
  io::write_dataset(root, "prompt_len", plen);
  io::write_dataset(root, "task", task);
  io::write_dataset(root, "ref_chosen", rc);
  io::write_dataset(root, "ref_rejected", rr);
  f.publish();
}

std::vector<DpoPair> load_dpo_pairs(const std::string& path) {
  io::H5Reader r(path, "dpo_pairs", 1);
  const hid_t root = r.root();
  auto ct = io::read_dataset<int32_t>(root, "chosen_tokens");
  auto ccu = io::read_dataset<int64_t>(root, "chosen_cu");
  auto rt = io::read_dataset<int32_t>(root, "rejected_tokens");
  auto rcu = io::read_dataset<int64_t>(root, "rejected_cu");
  auto plen = io::read_dataset<int32_t>(root, "prompt_len");
  auto task = io::read_dataset<int64_t>(root, "task");
  auto rc = io::read_dataset<double>(root, "ref_chosen");
  auto rr = io::read_dataset<double>(root, "ref_rejected");
  const size_t n = plen.size();
  if (ccu.size() != n + 1 || rcu.size() != n + 1 || task.size() != n || rc.size() != n ||
      rr.size() != n || ccu.back() != static_cast<int64_t>(ct.size()) ||
      rcu.back() != static_cast<int64_t>(rt.size()))
    throw IoError("DPO pairs " + path + " are inconsistent", "array lengths disagree",
                  "delete the file; the dpo mode rebuilds it");
  std::vector<DpoPair> pairs(n);
  for (size_t i = 0; i < n; ++i) {
    pairs[i].task = task[i];
    pairs[i].prompt_len = plen[i];
    pairs[i].chosen.assign(ct.begin() + ccu[i], ct.begin() + ccu[i + 1]);
    pairs[i].rejected.assign(rt.begin() + rcu[i], rt.begin() + rcu[i + 1]);
    pairs[i].ref_chosen = rc[i];
    pairs[i].ref_rejected = rr[i];
  }
  return pairs;
}

}  // namespace k1rl::long2short
