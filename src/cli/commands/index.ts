/**
 * Every subcommand, one file each with its help text beside it. Adding a command is one file and
 * one line here.
 */
import type { Command } from "commander";
import * as alerts from "./alerts.js";
import * as audit from "./audit.js";
import * as baseline from "./baseline.js";
import * as browse from "./browse.js";
import * as configCheck from "./configCheck.js";
import * as demo from "./demo.js";
import * as generate from "./generate.js";
import * as importHistory from "./import.js";
import * as insights from "./insights.js";
import * as maintenance from "./maintenance.js";
import * as mode from "./mode.js";
import * as models from "./models.js";
import * as pki from "./pki.js";
import * as predict from "./predict.js";
import * as run from "./run.js";
import * as simPlc from "./simPlc.js";
import * as simulate from "./simulate.js";
import * as status from "./status.js";
import * as suggestions from "./suggestions.js";
import * as tags from "./tags.js";
import * as train from "./train.js";
import * as trainOptimizer from "./trainOptimizer.js";
import * as trend from "./trend.js";
import * as vibration from "./vibration.js";
import * as workOrders from "./workOrders.js";

export const COMMANDS: readonly { register(program: Command): void }[] = [
  run,
  configCheck,
  browse,
  status,
  tags,
  alerts,
  maintenance,
  workOrders,
  insights,
  audit,
  trend,
  predict,
  suggestions,
  mode,
  models,
  pki,
  simulate,
  simPlc,
  generate,
  importHistory,
  train,
  baseline,
  vibration,
  trainOptimizer,
  demo,
];
