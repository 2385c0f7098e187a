export PYTHONPATH=.;python3 - <<'P' 2>&1|tail -30
import sys,time,json,os,dataclasses as dc,torch,traceback
sys.path.insert(0,'bench');import gpu_check as g;root=g.unpack()
from ff_algos.data import load_dataset;from ff_algos import ff_strong as fs
O=os.environ['OUT'];d=torch.device('cuda');print(torch.__version__,torch.cuda.get_device_name(),flush=True)
def W(f,s):open(O+'/'+f,'a').write(s+'\n')
class Ob:
 def phase_start(s,n,e):torch.cuda.synchronize();s.t=[time.perf_counter()]
 def epoch_end(s,e):torch.cuda.synchronize();s.t.append(time.perf_counter());W('prog.txt',f'{e} {s.t[-1]-s.t[-2]:.3f}')
 def phase_end(s):pass
def run(ds,tag,**k):
 try:
  D=load_dataset(ds,device=d,root=root);r=dc.replace(fs.STRONG,**k);ob=Ob();W('prog.txt',f'== {ds} {tag} {k}')
  t=time.perf_counter();o=fs.train_strong(r,D.train.x,D.train.y,10,ob);torch.cuda.synchronize();T=time.perf_counter()-t
  m=o.model;a=lambda p:round(float((p(D.test.x)==D.test.y).float().mean()),4)
  t=time.perf_counter();ag=a(m.predict);tp=time.perf_counter()-t;e=sorted(b-c for c,b in zip(ob.t,ob.t[1:]))
  res=dict(ds=ds,tag=tag,k=k,train_s=round(T,2),epoch_med=round(e[len(e)//2],3),compile_s=round(o.options['compile_seconds'],2),goodness=ag,head=a(m.predict_head),predict_s=round(tp,3),loss={n:round(v[-1],4) for n,v in o.losses.items()})
 except Exception:res=dict(ds=ds,tag=tag,err=traceback.format_exc()[-700:])
 print(json.dumps(res),flush=True);W('res.jsonl',json.dumps(res))
run('mnist','eager-fp32',epochs=2)
run('mnist','graphs-fp32',epochs=2,compile='cudagraphs')
run('mnist','graphs-tf32-full',compile='cudagraphs',precision='tf32')
run('fashion_mnist','graphs-tf32-full',compile='cudagraphs',precision='tf32')
P
