/**
 * The page at GET /: drop (or pick) an image, tick tasks, see each task's top-k as bars. Plain
 * HTML and script calling the JSON API (GET /v1/tasks, POST /v1/predict), nothing to build.
 */
export const WEB_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vpt-native serve</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; color: #222; }
  #drop { border: 2px dashed #888; border-radius: 8px; padding: 2rem; text-align: center; }
  #drop.over { background: #eef; }
  #preview { max-height: 10rem; display: block; margin: 1rem auto 0; }
  #tasks label { margin-right: 1rem; }
  .task { margin-top: 1.2rem; }
  .row { display: flex; align-items: center; gap: .5rem; margin: .2rem 0; }
  .name { width: 14rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .bar { height: .9rem; background: #4a7bd0; border-radius: 3px; }
  .error { color: #b00; }
</style>
</head>
<body>
<h1>vpt-native serve</h1>
<p id="backbone"></p>
<div id="tasks"></div>
<div id="drop">Drop an image here, or <input id="file" type="file" accept="image/*"><img id="preview" alt="" hidden></div>
<div id="results"></div>
<script>
const $ = (id) => document.getElementById(id);
let image = null;

async function loadTasks() {
  const info = await (await fetch('/v1/tasks')).json();
  $('backbone').textContent = 'Backbone ' + info.backbone.arch + ' (' + info.backbone.params + ' parameters, ' + info.backbone.device + ')';
  for (const t of info.tasks) {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    box.value = t.name;
    box.addEventListener('change', classify);
    label.append(box, ' ' + t.name + ' (' + t.numClasses + ' classes)');
    $('tasks').append(label);
  }
}

function chosenTasks() {
  return [...document.querySelectorAll('#tasks input:checked')].map((b) => b.value);
}

async function classify() {
  const results = $('results');
  const tasks = chosenTasks();
  if (!image || tasks.length === 0) { results.replaceChildren(); return; }
  results.setAttribute('aria-busy', 'true');
  const response = await fetch('/v1/predict?topK=5&tasks=' + encodeURIComponent(tasks.join(',')), {
    method: 'POST',
    headers: { 'content-type': image.type || 'application/octet-stream' },
    body: image,
  });
  const body = await response.json();
  results.replaceChildren();
  if (!response.ok) {
    const p = document.createElement('p');
    p.className = 'error';
    p.textContent = body.error.code + ': ' + body.error.message;
    results.append(p);
  } else {
    for (const prediction of body.predictions) {
      const section = document.createElement('section');
      section.className = 'task';
      section.dataset.task = prediction.task;
      const title = document.createElement('h3');
      title.textContent = prediction.task;
      section.append(title);
      for (const c of prediction.top) {
        const row = document.createElement('div');
        row.className = 'row';
        const name = document.createElement('span');
        name.className = 'name';
        name.textContent = c.name;
        const bar = document.createElement('span');
        bar.className = 'bar';
        bar.style.width = (c.prob * 20).toFixed(2) + 'rem';
        const prob = document.createElement('span');
        prob.className = 'prob';
        prob.textContent = (c.prob * 100).toFixed(1) + '%';
        row.append(name, bar, prob);
        section.append(row);
      }
      results.append(section);
    }
  }
  results.setAttribute('aria-busy', 'false');
}

function take(file) {
  if (!file) return;
  image = file;
  $('preview').src = URL.createObjectURL(file);
  $('preview').hidden = false;
  classify();
}

$('file').addEventListener('change', (e) => take(e.target.files[0]));
$('drop').addEventListener('dragover', (e) => { e.preventDefault(); $('drop').classList.add('over'); });
$('drop').addEventListener('dragleave', () => $('drop').classList.remove('over'));
$('drop').addEventListener('drop', (e) => { e.preventDefault(); $('drop').classList.remove('over'); take(e.dataTransfer.files[0]); });
loadTasks();
</script>
</body>
</html>
`;
