/** Picks the connector implementation for each configured connection (docs/code-style.md §2). */
import type { Logger } from "../common/logger.js";
import type { LineConfig } from "../config/schema.js";
import type { SampleWriter } from "../store/sampleWriter.js";
import type { Store } from "../store/store.js";
import type { Connector } from "./connector.js";
import { ModbusConnector } from "./modbus/modbusConnector.js";

export interface ConnectorDeps {
  writer: SampleWriter;
  store: Store;
  log: Logger;
}

export async function createConnectors(config: LineConfig, deps: ConnectorDeps): Promise<Connector[]> {
  const connectors: Connector[] = [];
  for (const connection of config.connections) {
    const tags = config.tags.filter((t) => t.connection === connection.id);
    if (connection.protocol === "opcua") {
      // node-opcua is loaded only for lines that use it: it is large, and on Node 20 it runs a
      // multi-second RSA self-test when it loads.
      const { OpcuaConnector } = await import("./opcua/opcuaConnector.js");
      connectors.push(new OpcuaConnector(connection, tags, { ...deps, line: config }));
    } else {
      connectors.push(new ModbusConnector(connection, tags, deps));
    }
  }
  return connectors;
}
