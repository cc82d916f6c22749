/**
 * The datasets `prepare` converts: the files each needs, where their owners publish them, the
 * terms they are published under (as this package summarises the owners' pages: read the page
 * before use), and the split sizes the VPT paper reports.
 */
import { VTAB_GROUPS, VTAB_TASKS } from './vtab.js';

export interface DatasetInfo {
  /** The `prepare` argument. */
  name: string;
  title: string;
  /** Files and folders needed in the raw folder. */
  files: string[];
  /** Where the owners publish it. */
  source: string;
  /** The terms of use, summarised; the owner's page is authoritative. */
  terms: string;
  /** Train / val / test images in the VPT paper's appendix table (paper's figures). */
  paper?: { train: number; val: number; test: number };
  /**
   * The official split sizes as the owners publish them (`val` where the dataset has an official
   * val split), and where they say so. `prepare` compares a download against these.
   */
  official: { train: number; val?: number; test: number; publishedIn: string };
  /** How val is made. */
  val: 'carved' | 'official';
}

export const FGVC_DATASETS: readonly DatasetInfo[] = [
  {
    name: 'cub',
    title: 'CUB-200-2011',
    files: ['images/', 'images.txt', 'train_test_split.txt', 'image_class_labels.txt', 'classes.txt (optional)'],
    source: 'https://www.vision.caltech.edu/datasets/cub_200_2011/ (Caltech DATA: data.caltech.edu)',
    terms: "research use; the images are Flickr users' photos and stay theirs (see the Caltech page)",
    paper: { train: 5394, val: 600, test: 5794 },
    official: {
      train: 5994,
      test: 5794,
      publishedIn: 'the archive README and technical report CNS-TR-2011-001 (11,788 images)',
    },
    val: 'carved',
  },
  {
    name: 'nabirds',
    title: 'NABirds',
    files: ['images/', 'images.txt', 'train_test_split.txt', 'image_class_labels.txt', 'classes.txt'],
    source: 'https://dl.allaboutbirds.org/nabirds (Cornell Lab of Ornithology; download after accepting its terms)',
    terms: "Cornell Lab's terms of use, accepted at download: non-commercial research use",
    paper: { train: 21536, val: 2393, test: 24633 },
    official: { train: 23929, test: 24633, publishedIn: 'Van Horn et al., CVPR 2015 (48,562 images)' },
    val: 'carved',
  },
  {
    name: 'flowers',
    title: 'Oxford Flowers-102',
    files: ['jpg/', 'imagelabels.mat', 'setid.mat'],
    source: 'https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (Visual Geometry Group, Oxford)',
    terms: 'no licence stated on the page; images collected from the web',
    paper: { train: 1020, val: 1020, test: 6149 },
    official: { train: 1020, val: 1020, test: 6149, publishedIn: 'the VGG page and setid.mat (8,189 images)' },
    val: 'official',
  },
  {
    name: 'dogs',
    title: 'Stanford Dogs',
    files: ['Images/', 'train_list.mat', 'test_list.mat (from lists.tar; also found in lists/)'],
    source: 'http://vision.stanford.edu/aditya86/ImageNetDogs/ (Stanford Vision Lab)',
    terms: "built from ImageNet: ImageNet's terms (non-commercial research and education)",
    paper: { train: 10800, val: 1200, test: 8580 },
    official: {
      train: 12000,
      test: 8580,
      publishedIn: 'the Stanford Dogs page (20,580 images, 100 per class in train)',
    },
    val: 'carved',
  },
  {
    name: 'cars',
    title: 'Stanford Cars',
    files: [
      'cars_train/, cars_test/, cars_train_annos.mat, cars_test_annos_withlabels.mat, cars_meta.mat (devkit; also found in devkit/)',
      'or car_ims/ + cars_annos.mat (the older release)',
    ],
    source:
      'https://ai.stanford.edu/~jkrause/cars/car_dataset.html (Stanford AI Lab; the original host is often offline)',
    terms: "the page's terms: non-commercial research use, as for ImageNet",
    paper: { train: 7329, val: 815, test: 8041 },
    official: { train: 8144, test: 8041, publishedIn: 'Krause et al., 3dRR 2013 and the devkit (16,185 images)' },
    val: 'carved',
  },
];

export const VTAB_INFO = {
  name: 'vtab-<task>',
  title: 'VTAB-1k',
  files: ['images/', 'train800.txt', 'val200.txt', 'train800val200.txt', 'test.txt (lines: <path> <label>)'],
  source:
    'https://github.com/google-research/task_adaptation (the benchmark; its image-folder export, e.g. as NOAH distributes it)',
  terms: "each task's own dataset licence applies (the benchmark code is Apache-2.0)",
  groups: VTAB_GROUPS,
  tasks: VTAB_TASKS,
};

/** The `prepare` names: the FGVC sets and `vtab-<task>` for the 19 tasks. */
export function datasetNames(): string[] {
  return [...FGVC_DATASETS.map((d) => d.name), ...Object.keys(VTAB_TASKS).map((t) => `vtab-${t}`)];
}
