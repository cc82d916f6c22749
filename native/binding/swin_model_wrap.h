// swin_model_wrap.h — `NativeSwinModel`, the JS face of PromptedSwin (model/prompted_swin.h).
// Its methods carry NativeModel's names and argument forms (model_wrap.h) for what the Swin
// model supports, so lib/model/model.ts drives either; what it does not support (cached stem
// or feature steps, data-parallel groups, CUDA graphs, staged uploads, CLS embeddings) throws
// VPT_OPTION naming the feature. Options arrive validated from TypeScript (lib/model/swin-options.ts).
#pragma once

#include <napi.h>

#include <memory>

#include "binding/promise_worker.h"
#include "model/backbone_fingerprint.h"
#include "model/prompted_swin.h"
#include "runtime/serial_thread.h"
#include "train/swin_trainer.h"

namespace vpt {

class SwinModelWrap : public Napi::ObjectWrap<SwinModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit SwinModelWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value LoadBackbone(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Features(const Napi::CallbackInfo& info);
  Napi::Value ForwardU8(const Napi::CallbackInfo& info);
  Napi::Value PreprocessU8(const Napi::CallbackInfo& info);
  Napi::Value ExportTrainable(const Napi::CallbackInfo& info);
  Napi::Value ImportTrainable(const Napi::CallbackInfo& info);
  Napi::Value ConfigureOptimizer(const Napi::CallbackInfo& info);
  Napi::Value SetLearningRate(const Napi::CallbackInfo& info);
  Napi::Value SetClassWeights(const Napi::CallbackInfo& info);
  Napi::Value TrainStep(const Napi::CallbackInfo& info);
  Napi::Value TrainStepU8(const Napi::CallbackInfo& info);
  Napi::Value TrainStepFeatures(const Napi::CallbackInfo& info);
  Napi::Value UploadU8(const Napi::CallbackInfo& info);
  // {requested: false, ...}: configureOptimizer refuses cudaGraphs for this model.
  Napi::Value GraphStatus(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value EvaluateU8(const Napi::CallbackInfo& info);
  Napi::Value ExportState(const Napi::CallbackInfo& info);
  Napi::Value ImportState(const Napi::CallbackInfo& info);
  Napi::Value ExportBackbone(const Napi::CallbackInfo& info);
  Napi::Value GradientState(const Napi::CallbackInfo& info);
  Napi::Value RngState(const Napi::CallbackInfo& info);
  Napi::Value SetRngState(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value BackboneFingerprintJs(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  // stem, clsLayerwise, attachProcessGroup, voteStop: throws VPT_OPTION with info.Data()'s text.
  Napi::Value Unsupported(const Napi::CallbackInfo& info);

  enum class ImageOutput { Logits, Features, Preprocessed };
  Napi::Value RunImages(const Napi::CallbackInfo& info, bool u8, ImageOutput output);
  Napi::Value RunTrainStep(const Napi::CallbackInfo& info, bool u8, bool features = false);
  Napi::Value RunEvaluate(const Napi::CallbackInfo& info, bool u8);
  std::shared_ptr<PromptedSwin> model(Napi::Env env) const;
  std::shared_ptr<SwinTrainer> trainer(Napi::Env env) const;
  Napi::Promise RunOnModel(Napi::Env env, const std::vector<Napi::Value>& keep_alive, PromiseWorker::Work work,
                           PromiseWorker::Resolve resolve = nullptr);

  std::shared_ptr<PromptedSwin> model_;
  std::shared_ptr<SerialThread> thread_ = std::make_shared<SerialThread>();
  std::shared_ptr<SwinTrainer> trainer_;
  std::shared_ptr<const BackboneFingerprint> fingerprint_;
};

}  // namespace vpt
