// deep_prompt_schedule.h — which prompts enter which block, for VPT's deep variants (the
// paper's depth ablation; KMnP/vpt MODEL.PROMPT.NUM_DEEP_LAYERS / REVERSE_DEEP / DEEP_SHARED /
// FORWARD_DEEP_NOEXPAND):
//   shallow                  set 0 before block 0; its rows then run through every block
//   deep                     set i before block i (set 0 = prompt_embeddings, i > 0 the deep set i - 1)
//   deep, layers k           sets 0..k-1 before blocks 0..k-1; the rows then run on through k..L-1
//   deep, layers k, no-expand as above, but the rows leave the stream before block k
//   deep, layers k, reverse  no prompts in blocks 0..L-k-1; deep set j (1-based) before block
//                            L-k+j-1, inserted before block L-k (KMnP's code overwrites the first
//                            N patch rows there instead: see README, "Deep variants")
//   deep, shared             set 0 before every prompted block
// prepend-pixel* prompts are rows as prepended ones are; pad and below prompt the image before
// the patch embedding (prompted_vit.cc), so their schedule keeps every block prompt-free.
// With skip_discarded_rows, a block whose prompt-row outputs the next step overwrites or drops
// (or, after the last block, pooling does not read) takes its prompts as key / value rows only
// (vit.h block_forward's kv_rows); the stream then leaves those rows out.
#pragma once

#include <cstdint>
#include <vector>

#include "model/prompt.h"

namespace vpt {

struct PromptSchedule {
  // What happens to the stream right before a block: its prompt rows kept, inserted, replaced
  // or dropped; or (added prompts) the block's set added to every token.
  enum class Step { kKeep, kInsert, kReplace, kRemove, kAdd };
  struct Block {
    int64_t set = -1;   // the prompt set entering this block (Prompts::tokens_for_set), -1 none
    bool kv = false;    // the set joins as key / value rows only
    bool rows = false;  // the stream holds N prompt rows (after the prefix) in this block
    Step step = Step::kKeep;
  };
  std::vector<Block> blocks;

  // Whether the last block's output holds the prompt rows.
  bool rows_out() const { return !blocks.empty() && blocks.back().rows; }
  // Whether any block takes its prompts as key / value rows.
  bool any_kv() const;
};

// `pool_reads_prompts`: the head pools the last block's prompt rows (prompt_pool, imgprompt_pool).
PromptSchedule make_prompt_schedule(const PromptConfig& config, int64_t depth, bool skip_discarded_rows,
                                    bool pool_reads_prompts);

}  // namespace vpt
