// The shape of test/fixtures/<name>/objectives.json: the float64 PyTorch goldens make_objective_goldens.py writes from
// TRL's trainers for the fixture batch's rows. Types only, so that the kernels' tests (Node, which read the file) and
// the trainer's (Node, and the page, which fetches it) share them without importing each other's code.
import type { KtoLossType } from '@webtune/kernels';

/** A case's logged metrics, by TRL's names. */
interface Case {
  metrics: Record<string, number>;
}

/** One KTO micro-batch: its settings, the sequence log-prob sums its loss is made from, and d(loss)/d(each row's sum). */
export interface KtoGolden extends Case {
  loss_type: KtoLossType;
  beta: number;
  desirable_weight: number;
  undesirable_weight: number;
  labels: boolean[];
  policy_logps: number[];
  reference_logps: number[];
  /** null for apo_zero_unpaired, which has no KL term. */
  kl_policy_logps: number[] | null;
  kl_reference_logps: number[] | null;
  kl_before_clamp: number;
  dloss_dseq_logps: number[];
}

export interface OrpoGolden extends Case {
  beta: number;
}

export interface SimpoGolden extends Case {
  beta: number;
  simpo_gamma: number;
  cpo_alpha: number;
  label_smoothing: number;
}

export interface ObjectiveGoldens {
  /** The fixture batch: rows 0, 1 are the pairs' chosen completions, rows 2, 3 their rejected ones. */
  rows: { prompt: number[]; completion: number[] }[];
  kto: Record<string, KtoGolden>;
  orpo: Record<string, OrpoGolden>;
  simpo: Record<string, SimpoGolden>;
}
