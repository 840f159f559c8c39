#!/usr/bin/env python3
# Import circles between the crate's modules (files), from `use` and
# `crate::`/`super::` paths; a module and its own ancestors do not count.
# Exits 1 and names each circle when there is one (issue 23 broke them all).
import os,re,sys
root=sys.argv[1] if len(sys.argv)>1 else 'src'
mods={}
for dp,dn,fn in os.walk(root):
    for f in fn:
        if not f.endswith('.rs'): continue
        p=os.path.join(dp,f)
        rel=os.path.relpath(p,root)[:-3].split(os.sep)
        if rel[-1]=='mod': rel=rel[:-1]
        if rel in (['lib'],['main']): rel=[]
        mods[tuple(rel)]=p
def resolve(cur,path):
    # cur: module tuple of file; path list of segments
    if not path: return None
    if path[0]=='crate': base=[]; path=path[1:]
    elif path[0]=='super':
        base=list(cur)
        while path and path[0]=='super':
            base=base[:-1]; path=path[1:]
    elif path[0]=='self': base=list(cur); path=path[1:]
    else: return None
    full=base+path
    for i in range(len(full),-1,-1):
        if tuple(full[:i]) in mods: return tuple(full[:i])
    return None
edges={m:set() for m in mods}
pat=re.compile(r'\b((?:crate|super|self)(?:::(?:super|[A-Za-z_][A-Za-z0-9_]*))+)')
for m,p in mods.items():
    txt=open(p).read()
    # drop test modules crudely
    txt=re.split(r'#\[cfg\(test\)\]\s*mod tests',txt)[0]
    refs=[mm.group(1) for mm in pat.finditer(txt)]
    for um in re.finditer(r'((?:crate|super|self)(?:::(?:super|[A-Za-z_][A-Za-z0-9_]*))*)::\{([^{}]*)\}',txt):
        for item in um.group(2).split(','):
            item=item.strip().split(' as ')[0].strip()
            if item and item!='self': refs.append(um.group(1)+'::'+item)
            elif item=='self': refs.append(um.group(1))
    for r in refs:
        segs=r.split('::')
        t=resolve(m,segs)
        if t is not None and t!=m and not (len(t)<len(m) and m[:len(t)]==t) and not (len(m)<len(t) and t[:len(m)]==m):
            edges[m].add(t)
# tarjan
idx={};low={};st=[];on=set();res=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(comp)
for v in mods:
    if v not in idx: sc(v)
for comp in res:
    print('import circle:', ' <-> '.join(sorted('::'.join(x) for x in comp)))
sys.exit(1 if res else 0)
