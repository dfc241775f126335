// The ROC curve of an OOD score (paper 002, section 4.2; Figure 5), in the convention of dynamics/ood.h: ID is
// the positive class and a sample is accepted as ID when its score <= tau. As tau rises through every
// distinct score, TPR = the share of ID scores <= tau and FPR = the share of OOD scores <= tau; the curve
// starts at (0, 0) (tau below every score) and ends at (1, 1). Tied scores move together, so the trapezoid
// area under the curve is exactly ood.h's Mann-Whitney AUROC (ties counted 1/2), and the first point with
// TPR >= 0.95 has FPR = fpr_at_tpr(id, ood, 0.95).
#pragma once

#include <vector>

namespace gg {

struct RocCurve {
  std::vector<double> threshold;  // tau per point; -inf at the first
  std::vector<double> fpr, tpr;
};

// Both lists non-empty, no NaN.
RocCurve roc_curve(const std::vector<double>& id_scores, const std::vector<double>& ood_scores);
// The trapezoid area under the curve.
double roc_area(const RocCurve& curve);

}  // namespace gg
