#!/usr/bin/env python3
"""Lists the circles in a crate's module graph, file by file: module A imports B when A's code
(not its comments, docs or unit tests) names `crate::B…`, `super::…` or `self::…` paths that
resolve to B, or declares `mod B`. A folder's `mod.rs` that declares its children therefore may
not be imported back by them: shared helpers live in a sibling file.

    python3 scripts/module-cycles.py crates/sodeep/src    # prints the circles; exit status 1 if any
    python3 scripts/module-cycles.py crates/sodeep/src scripts/module-layers.txt
                                                          # also the arrows that point the wrong way
"""
import os,re,sys
root=sys.argv[1]
nodes={}
for dp,_,fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p=os.path.join(dp,f); rel=os.path.relpath(p,root)[:-3].replace(os.sep,'::')
            n=rel[:-5] if rel.endswith('::mod') else rel
            if n in('lib','main'): n='crate'
            nodes[n]=p
def resolve(parts):
    # longest prefix that is a node
    for k in range(len(parts),0,-1):
        c='::'.join(parts[:k])
        if c in nodes: return c
    return None
edges={n:set() for n in nodes}
for n,p in nodes.items():
    text=''.join(l.split('//')[0] for l in open(p) if not l.strip().startswith('//')).split('#[cfg(test)]')[0]
    parent=n.rsplit('::',1)[0] if '::' in n else 'crate'
    is_mod=p.endswith('mod.rs') or n=='crate'
    base = n if is_mod else parent
    for m in re.finditer(r'\b(crate|super|self)((?:::[a-z_][a-z0-9_]*)*)(::\{[^}]*\})?',text):
        head=m.group(1); rest=[x for x in m.group(2).strip(':').split('::') if x]
        if not rest and not m.group(3): continue
        if head=='crate': parts=rest
        elif head=='super':
            b = n.rsplit('::',1)[0] if '::' in n else ''
            parts=(b.split('::') if b else [])+rest
        else: parts=(n.split('::') if n!='crate' else [])+rest
        t=resolve(parts) if parts else 'crate'
        if t is None: t='crate'
        if t and t!=n: edges[n].add(t)
    for m in re.finditer(r'^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_0-9]+)\s*;',text,re.M):
        c=(base+'::' if base!='crate' else '')+m.group(1)
        if c in nodes: edges[n].add(c)
idx,low,on,st,out,cnt={}, {}, set(), [], [], [0]
sys.setrecursionlimit(10000)
def v(x):
    idx[x]=low[x]=cnt[0];cnt[0]+=1;st.append(x);on.add(x)
    for w in edges[x]:
        if w not in idx: v(w);low[x]=min(low[x],low[w])
        elif w in on: low[x]=min(low[x],idx[w])
    if low[x]==idx[x]:
        c=[]
        while True:
            w=st.pop();on.discard(w);c.append(w)
            if w==x:break
        if len(c)>1: out.append(sorted(c))
for x in nodes:
    if x not in idx: v(x)
for c in out: print('circle:',c)
wrong=[]
if len(sys.argv)>2:
    norm=os.path.normpath(root)
    under=lambda n,top: n==top or n.startswith(top+'::')
    for line in open(sys.argv[2]):
        f=line.split('#')[0].split()
        if len(f)<3 or os.path.normpath(f[0])!=norm: continue
        a,b=f[1],f[2]
        if not any(under(n,a) for n in nodes) or not any(under(n,b) for n in nodes):
            print(f'layer rule names a module that does not exist: {a} -> {b}'); wrong.append((a,b)); continue
        for n in sorted(nodes):
            if under(n,a):
                for t in sorted(edges[n]):
                    if under(t,b):
                        print(f'wrong way: {n} imports {t} ({a} may not import {b})'); wrong.append((n,t))
if not out and not wrong: print(f'{root}: no circles among {len(nodes)} modules, no arrow the wrong way')
sys.exit(1 if out or wrong else 0)
