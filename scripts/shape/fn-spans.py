# Longest functions of a source tree (lines from `fn` to its closing brace).
# usage: python3 scripts/shape/fn-spans.py crates/engine/src [N]   (issue 19's before/after)
import re,sys,os
res=[]
for root,_,fs in os.walk(sys.argv[1]):
    for f in fs:
        if not f.endswith('.rs'): continue
        p=os.path.join(root,f); L=open(p).read().split('\n')
        for i,l in enumerate(L):
            m=re.match(r'^\s*(pub(\([a-z]+\))? )?(async )?fn (\w+)',l)
            if not m: continue
            d=0; started=False
            for j in range(i,len(L)):
                t=re.sub(r'"(\\.|[^"\\])*"','',L[j]); t=re.sub(r"'(\\.|[^'\\])'",'',t); t=t.split('//')[0]
                d+=t.count('{')-t.count('}')
                if '{' in t: started=True
                if started and d<=0: break
                if not started and t.rstrip().endswith(';'): break
            if started: res.append((j-i+1,p,m.group(4)))
res.sort(reverse=True)
for n,p,name in res[:int(sys.argv[2]) if len(sys.argv)>2 else 12]: print(n,name,p)
