// The Vultisig SDK's side of tests/cli/test_sdk.py: it imports .vult files
// with the published @vultisig/sdk and exports them again, offline.
//
//   node sdk_interop.mjs SDK_PREFIX < JOB.json
//
// SDK_PREFIX is the directory whose node_modules holds @vultisig/sdk. JOB is
//   {"read":   [{"file": F, "password": P|null}, ...],
//    "export": [{"file": F, "password": P|null, "out": O, "export_password": P|null}, ...]}
// (passwords come on stdin, never in argv). stdout is one JSON object:
//   {"read": [FACTS|{"error": MSG}, ...], "export": [{"filename": N}|{"error": MSG}, ...],
//    "network": [every connection the SDK tried to open]}
// where FACTS holds what the SDK made of the file: name, public keys,
// signers, local party id, lib type, encrypted, and the two key shares the
// SDK signs with. Any network use is refused and reported: a file import
// must need none.
import dns from "node:dns";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";

const network = [];

function refuseNetwork() {
    const refuse = (what) => {
        network.push(String(what));
        throw new Error(`sdk_interop: network use refused (${what})`);
    };
    net.Socket.prototype.connect = function (...args) {
        const o = args[0];
        refuse(typeof o === "object" ? `connect ${o.host ?? o.hostname ?? o.path}:${o.port}`
                                     : `connect ${args.join(":")}`);
    };
    dns.lookup = (host) => refuse(`dns ${host}`);
    // The SDK wraps fetch to read its .wasm files; anything else is the network.
    const localFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
        const url = typeof input === "string" ? input : input.url ?? String(input);
        if (!url.startsWith("file:")) refuse(`fetch ${url}`);
        return localFetch(input, init);
    };
}

async function loadSdk(prefix) {
    const entry = path.join(prefix, "node_modules/@vultisig/sdk/dist/index.node.esm.js");
    return import(pathToFileURL(entry).href);
}

// coreVault is where the SDK keeps the parsed share it signs and exports
// with; TypeScript calls it protected, JavaScript lets a test read it.
function facts(vault) {
    const data = vault.data;
    const core = vault.coreVault;
    return {
        name: data.name,
        public_key_ecdsa: data.publicKeys.ecdsa,
        public_key_eddsa: data.publicKeys.eddsa,
        signers: [...data.signers],
        local_party_id: data.localPartyId,
        lib_type: data.libType ?? null,
        encrypted: data.isEncrypted,
        hex_chain_code: data.hexChainCode,
        key_shares: { ecdsa: core.keyShares.ecdsa, eddsa: core.keyShares.eddsa },
    };
}

async function attempt(work) {
    try {
        return await work();
    } catch (e) {
        return { error: String(e?.message ?? e) };
    }
}

async function main() {
    const prefix = process.argv[2];
    if (!prefix) {
        process.stderr.write("usage: node sdk_interop.mjs SDK_PREFIX < JOB.json\n");
        process.exit(2);
    }
    const job = JSON.parse(fs.readFileSync(0, "utf8"));
    // The SDK logs with console.log; stdout carries only the result.
    console.log = console.info = console.debug = (...a) => console.error(...a);
    refuseNetwork();
    const { Vultisig, MemoryStorage } = await loadSdk(prefix);

    // A fresh SDK per file: nothing cached from one import helps the next.
    const importFile = async (file, password) => {
        const sdk = new Vultisig({ storage: new MemoryStorage() });
        const content = fs.readFileSync(file, "utf8");
        return { sdk, vault: await sdk.importVault(content, password ?? undefined) };
    };
    const result = { read: [], export: [], network };
    for (const item of job.read ?? []) {
        result.read.push(await attempt(async () => {
            const { sdk, vault } = await importFile(item.file, item.password);
            const f = facts(vault);
            sdk.dispose();
            return f;
        }));
    }
    for (const item of job.export ?? []) {
        result.export.push(await attempt(async () => {
            const { sdk, vault } = await importFile(item.file, item.password);
            const { filename, data } = await vault.export(item.export_password ?? undefined);
            fs.writeFileSync(item.out, data, { mode: 0o600, flag: "wx" });
            sdk.dispose();
            return { filename };
        }));
    }
    process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e) => {
    process.stderr.write(`sdk_interop: ${e?.stack ?? e}\n`);
    process.exit(1);
});
