// model_wrap.h — `NativeModel`, the JS face of PromptedVit. Options arrive validated from
// TypeScript (lib/model/); this file only copies them into plain structs. Every heavy
// method returns a Promise settled by a PromiseWorker.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "binding/promise_worker.h"
#include "distributed/process_group.h"
#include "model/backbone_fingerprint.h"
#include "model/prompted_vit.h"
#include "runtime/serial_thread.h"
#include "train/trainer.h"

namespace vpt {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  // loadBackbone(path, entries: {name, dtype, shape, offset, nbytes}[]): Promise<void>
  Napi::Value LoadBackbone(const Napi::CallbackInfo& info);
  Napi::Value LoadSide(const Napi::CallbackInfo& info);
  // forward(images: Float32Array, shape: number[]): Promise<Float32Array>  (n x C)
  Napi::Value Forward(const Napi::CallbackInfo& info);
  // features(images, shape): Promise<Float32Array>  (n x D)
  Napi::Value Features(const Napi::CallbackInfo& info);
  // stem(images, shape) -> Float32Array (n x T x D): the prompt-free frozen blocks' output.
  Napi::Value Stem(const Napi::CallbackInfo& info);
  // clsLayerwise(images, shape) -> Float32Array (n x (L + 1) x D): PromptedVit::cls_layerwise.
  Napi::Value ClsLayerwise(const Napi::CallbackInfo& info);
  // exportTrainable(): Promise<{name, shape, data: Float32Array}[]>
  Napi::Value ExportTrainable(const Napi::CallbackInfo& info);
  // importTrainable(tensors: {name, shape, data: Float32Array}[]): Promise<void>
  Napi::Value ImportTrainable(const Napi::CallbackInfo& info);
  // configureOptimizer({kind, lr, momentum, nesterov, weightDecay, beta1, beta2, eps,
  //                     clipGradNorm, maxNonFinite}): void — resets optimizer state
  Napi::Value ConfigureOptimizer(const Napi::CallbackInfo& info);
  // setLearningRate(lr): void
  Napi::Value SetLearningRate(const Napi::CallbackInfo& info);
  // setClassWeights(weights: Float32Array | null): void
  Napi::Value SetClassWeights(const Napi::CallbackInfo& info);
  // trainStep(images, shape, labels: Int32Array): Promise<{loss, correct, gradNorm, skipped}>
  Napi::Value TrainStep(const Napi::CallbackInfo& info);
  // attachProcessGroup(group: NativeProcessGroup): Promise<void> — data-parallel training:
  // the trainable tensors become rank 0's, and every train step averages gradients over ranks
  Napi::Value AttachProcessGroup(const Napi::CallbackInfo& info);
  // voteStop(): void — the next data-parallel step returns stop: true on every rank
  Napi::Value VoteStop(const Napi::CallbackInfo& info);
  // rngState(): Uint8Array — the dropout generator's state (data-parallel ranks each have one)
  Napi::Value RngState(const Napi::CallbackInfo& info);
  // setRngState(state: Uint8Array): void
  Napi::Value SetRngState(const Napi::CallbackInfo& info);
  // trainStepFeatures(features: Float32Array, shape: [n, D], labels): Promise<{...}> — linear
  // probing on precomputed backbone features
  Napi::Value TrainStepFeatures(const Napi::CallbackInfo& info);
  // evaluate(images, shape, labels, keepLogits): Promise<{loss, correct1, correct5, count, logits?}>
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  // exportState(): Promise<{tensors, step, rng: Uint8Array, nonfiniteTotal, nonfiniteStreak}>
  Napi::Value ExportState(const Napi::CallbackInfo& info);
  // importState({tensors, step, rng, nonfiniteTotal, nonfiniteStreak}): Promise<void>
  Napi::Value ImportState(const Napi::CallbackInfo& info);
  // exportBackbone(): Promise<NativeTensor[]> — the frozen weights, for checks
  Napi::Value ExportBackbone(const Napi::CallbackInfo& info);
  // gradientState(): {withGrad: string[], backboneRequiresGrad: string[]}
  Napi::Value GradientState(const Napi::CallbackInfo& info);
  // info(): {trainableParams, totalParams, device}
  Napi::Value Info(const Napi::CallbackInfo& info);

  // The uint8 forms: `batch` is {pixels: Uint8Array (B, H, W, 3), shape, crops: Int32Array
  // (B, 2), flips: Uint8Array (B,), cropSize, mean: number[3], std: number[3]}; crop, flip and
  // normalization run on the model's device (augment.h).
  // preprocessU8(batch): Promise<Float32Array>  (B, 3, S, S), the input the model sees
  Napi::Value PreprocessU8(const Napi::CallbackInfo& info);
  // forwardU8(batch): Promise<Float32Array>  (B x C)
  Napi::Value ForwardU8(const Napi::CallbackInfo& info);
  // trainStepU8(batch, labels: Int32Array): Promise<{loss, correct, gradNorm, skipped}>
  Napi::Value TrainStepU8(const Napi::CallbackInfo& info);
  // uploadU8(batch, target: NativeStagedBatch): Promise<void> — copies the batch's pixels to
  // the model's device ahead of its step (CUDA: pinned staging, upload stream, not waiting
  // for the model's lock); the target then stands in for the batch in trainStepU8 / evaluateU8
  Napi::Value UploadU8(const Napi::CallbackInfo& info);
  // graphStatus(): {requested, captured, captures, replays, fallback: string | null} — CUDA
  // graphs of the train step (configureOptimizer's cudaGraphs)
  Napi::Value GraphStatus(const Napi::CallbackInfo& info);
  // evaluateU8(batch, labels, keepLogits): Promise<{loss, correct1, correct5, count, logits?}>
  Napi::Value EvaluateU8(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  // backboneFingerprint(): {shapes, weights, params} | null — of the backbone as loaded
  // (model/backbone_fingerprint.h); null before loadBackbone
  Napi::Value BackboneFingerprintJs(const Napi::CallbackInfo& info);
  // shareBackbone(source: NativeModel): Promise<void> — this model's backbone becomes source's
  // tensors, no copy (PromptedVit::share_backbone: frozen backbones only)
  Napi::Value ShareBackbone(const Napi::CallbackInfo& info);
  // trainStepGrouped(batch, labels, others: NativeModel[]) or (images, shape, labels, others):
  // Promise<({loss, ...} | {error: {code, message}})[]> — this model and others, which share its
  // backbone, step together on the batch (grouped_step_wrap.cc, train/grouped_step.h)
  Napi::Value TrainStepGrouped(const Napi::CallbackInfo& info);
  // groupedStepUnsupported(others: NativeModel[]): string | null — why they cannot step together
  Napi::Value GroupedStepUnsupported(const Napi::CallbackInfo& info);
  // This model's trainer and the others', checked (grouped_step_wrap.cc).
  std::vector<std::shared_ptr<Trainer>> GroupTrainers(Napi::Env env, const Napi::Value& others);
  // The ModelWrap of a NativeModel object, or nullptr for any other value.
  static ModelWrap* From(const Napi::Value& value);

  enum class ImageOutput { Logits, Features, Preprocessed, Stem, ClsLayerwise };
  // Each takes either image form: Float32Array + shape, or (u8) a loader's uint8 batch.
  Napi::Value RunImages(const Napi::CallbackInfo& info, bool u8, ImageOutput output);
  Napi::Value RunTrainStep(const Napi::CallbackInfo& info, bool u8, bool features);
  Napi::Value RunEvaluate(const Napi::CallbackInfo& info, bool u8);
  std::shared_ptr<PromptedVit> model(Napi::Env env) const;

  std::shared_ptr<Trainer> trainer(Napi::Env env) const;

  std::shared_ptr<PromptedVit> model_;
  // Every call that runs the model runs on this thread (see serial_thread.h).
  std::shared_ptr<SerialThread> thread_ = std::make_shared<SerialThread>();
  // PromiseWorker::Run with the work moved onto thread_.
  Napi::Promise RunOnModel(Napi::Env env, const std::vector<Napi::Value>& keep_alive, PromiseWorker::Work work,
                           PromiseWorker::Resolve resolve = nullptr);
  std::shared_ptr<Trainer> trainer_;
  std::shared_ptr<DistributedGroup> group_;
  std::shared_ptr<const BackboneFingerprint> fingerprint_;
};

}  // namespace vpt
