# Cycles among the engine's top-level modules (crate:: paths; container::record counted apart, lib.rs and unit tests left out).
# usage: python3 scripts/shape/engine-cycles.py crates/engine/src
import re,os,sys
src=sys.argv[1]; mods=set(); edges={}
for root,_,fs in os.walk(src):
    for f in fs:
        if not f.endswith('.rs'): continue
        p=os.path.relpath(os.path.join(root,f),src)
        if p=='lib.rs': continue
        top=p.split('/')[0].removesuffix('.rs')
        if p=='container/record.rs': top='container::record'
        mods.add(top)
        text=open(os.path.join(root,f)).read()
        text=re.sub(r'//[^\n]*','',text)
        # A file's unit tests (at its end) are not part of the module graph.
        text=text.split('#[cfg(test)]\nmod tests')[0]
        for m in re.findall(r'crate::(\w+(?:::record\b)?)',text): edges.setdefault(top,set()).add(m)
alias={}
E={a:{alias.get(b,b) for b in bs if alias.get(b,b) in mods and alias.get(b,b)!=a} for a,bs in edges.items()}
idx={};low={};st=[];on=set();out=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in E.get(v,()):
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        g=[]
        while True:
            w=st.pop();on.discard(w);g.append(w)
            if w==v:break
        if len(g)>1: out.append(sorted(g))
for v in sorted(mods):
    if v not in idx: sc(v)
print('cycles:',out if out else 'none')
for m in ['spec','container::record','container','containers','network','volumes','builder','build','mounts','archive','logging','filters']:
    print(m,'->',sorted(E.get(m,())))
