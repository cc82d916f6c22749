// deep_prompt_schedule.cc — see deep_prompt_schedule.h.
#include "model/deep_prompt_schedule.h"

namespace vpt {

bool PromptSchedule::any_kv() const {
  for (const auto& b : blocks) {
    if (b.kv) return true;
  }
  return false;
}

PromptSchedule make_prompt_schedule(const PromptConfig& c, int64_t depth, bool skip_discarded_rows,
                                    bool pool_reads_prompts) {
  PromptSchedule s;
  s.blocks.resize(static_cast<size_t>(depth));
  auto at = [&](int64_t i) -> PromptSchedule::Block& { return s.blocks[static_cast<size_t>(i)]; };
  // pad / below prompt the image itself: the token stream holds no prompts.
  if (c.tokens <= 0 || depth <= 0 || is_input_prompt(c.location)) return s;
  // Which set enters where; `remove_at`: the block before which the rows leave (no-expand).
  int64_t remove_at = -1;
  if (!c.deep) {
    at(0).set = 0;
  } else if (c.reverse_deep) {
    for (int64_t i = depth - c.deep_layers; i < depth; ++i) at(i).set = i - (depth - c.deep_layers) + 1;
  } else {
    const int64_t n = c.deep_layers > 0 ? c.deep_layers : depth;
    for (int64_t i = 0; i < n; ++i) at(i).set = c.deep_shared ? 0 : i;
    if (c.no_expand && n < depth) remove_at = n;
  }
  if (!has_prompt_rows(c.location)) {
    // Added prompts: no rows of their own, nothing to skip.
    for (auto& b : s.blocks) b.step = b.set >= 0 ? PromptSchedule::Step::kAdd : PromptSchedule::Step::kKeep;
    return s;
  }
  // The rows each block would carry computing every row, as the reference does.
  std::vector<bool> nominal(static_cast<size_t>(depth));
  for (int64_t i = 0; i < depth; ++i) {
    const bool before = i > 0 && nominal[static_cast<size_t>(i - 1)];
    nominal[static_cast<size_t>(i)] = at(i).set >= 0 || (before && i != remove_at);
  }
  // A block's prompt-row outputs are read only when they run on into the next block (no new
  // set, not removed) or, after the last block, when pooling reads them.
  for (int64_t i = 0; i < depth; ++i) {
    const bool read_after =
        i + 1 < depth ? at(i + 1).set < 0 && nominal[static_cast<size_t>(i + 1)] : pool_reads_prompts;
    auto& b = at(i);
    b.kv = skip_discarded_rows && b.set >= 0 && !read_after;
    b.rows = nominal[static_cast<size_t>(i)] && !b.kv;
    const bool had = i > 0 && at(i - 1).rows;
    using Step = PromptSchedule::Step;
    if (b.kv || b.set < 0) {
      b.step = had && !b.rows ? Step::kRemove : Step::kKeep;
    } else {
      b.step = had ? Step::kReplace : Step::kInsert;
    }
  }
  return s;
}

}  // namespace vpt
